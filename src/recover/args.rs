//! `devpilot recover`'s command line. The key is never an argument (other users see a process's
//! arguments): it comes from a file or from standard input.

use std::path::PathBuf;

pub const USAGE: &str = "usage: devpilot recover [--key-file FILE | --key-file -] [--sha256 HEX] ARTIFACT --out TARGET

Decrypts (when the artifact is encrypted), verifies and unpacks one Devpilot artifact, with no
server, database, master key or data folder. FILE holds the workspace's recovery key
(devpilot-recovery-key-v1:…); with `--key-file -` or no --key-file it is read from standard input.
--sha256 is the checksum shown on the run's page: the file is checked against it first.
TARGET is a new (or empty) folder for a directory backup, a new file for a SQLite database or a
PostgreSQL dump (restore that with pg_restore).";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    File(PathBuf),
    Stdin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub artifact: PathBuf,
    pub out: PathBuf,
    pub key: KeySource,
    pub sha256: Option<String>,
}

pub fn parse(args: &[String]) -> Result<Args, String> {
    let (mut artifact, mut out, mut key, mut sha256) = (None, None, KeySource::Stdin, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let mut value = |name: &str| rest.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--out" | "-o" => out = Some(PathBuf::from(value("--out")?)),
            "--key-file" => {
                key = match value("--key-file")?.as_str() {
                    "-" => KeySource::Stdin,
                    path => KeySource::File(PathBuf::from(path)),
                }
            }
            "--sha256" => {
                let hex = value("--sha256")?.trim().to_ascii_lowercase();
                if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err("--sha256 takes the 64 hexadecimal digits shown on the run's page".into());
                }
                sha256 = Some(hex);
            }
            "--key" => return Err("the key is never given on the command line: use --key-file FILE or stdin".into()),
            flag if flag.starts_with('-') && flag.len() > 1 => return Err(format!("unknown option {flag}")),
            path if artifact.is_none() => artifact = Some(PathBuf::from(path)),
            extra => return Err(format!("one artifact at a time (also got {extra})")),
        }
    }
    Ok(Args {
        artifact: artifact.ok_or("name the artifact file to recover")?,
        out: out.ok_or("say where to write it with --out TARGET")?,
        key,
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_the_options_in_any_order() {
        let args = parse(&strings(&["a.tar.zst.dpbe", "--out", "x", "--key-file", "k"])).expect("parses");
        assert_eq!(args.key, KeySource::File("k".into()));
        let args = parse(&strings(&["--out", "x", "a", "--key-file", "-"])).expect("parses");
        assert_eq!((args.key, args.artifact), (KeySource::Stdin, PathBuf::from("a")));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        assert!(parse(&strings(&["a"])).expect_err("refused").contains("--out"));
        assert!(parse(&strings(&["--out", "x"])).expect_err("refused").contains("artifact"));
        assert!(parse(&strings(&["a", "--out", "x", "--key", "k"])).expect_err("refused").contains("never"));
        assert!(parse(&strings(&["a", "--out", "x", "--sha256", "12"])).expect_err("refused").contains("64"));
    }
}
