use devpilot::config::Settings;
use devpilot::startup::Application;

const USAGE: &str = "usage: devpilot                             serve (settings from DEVPILOT_* variables)
       devpilot rotate-key                  make a new master key and re-seal every secret under it
       devpilot rotate-key --retire-previous  drop the previous key once nothing needs it
       devpilot wal-fetch …                 a PostgreSQL clone's restore_command (Devpilot writes it)
       devpilot recover [--key-file F] [--sha256 HEX] ARTIFACT --out TARGET
                                            an artifact back into files, without a server (see docs/ARTIFACT_FORMAT.md)
       devpilot restore-instance ARCHIVE --passphrase-file F
                                            Devpilot's own backup into a fresh install (DATABASE_URL, DEVPILOT_DATA_DIR)";

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    devpilot::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Run by a clone's PostgreSQL as its own user: it needs none of the server's settings.
    if args.first().map(String::as_str) == Some("wal-fetch") {
        std::process::exit(devpilot::databases::fetch_client::run(&args[1..]).await);
    }
    // Run where Devpilot may be gone: no settings, database, master key or data folder.
    if args.first().map(String::as_str) == Some("recover") {
        std::process::exit(devpilot::recover::run(&args[1..]));
    }
    let settings = Settings::from_env()?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => serve(settings).await,
        ["rotate-key"] | ["rotate-key", "--retire-previous"] => {
            match devpilot::keys::rotate::run(&settings, args.len() == 2).await {
                Ok(message) => println!("{message}"),
                Err(e) => {
                    eprintln!("devpilot rotate-key: {e:#}");
                    std::process::exit(1);
                }
            }
            Ok(())
        }
        ["restore-instance", ..] => std::process::exit(devpilot::instance_backup::restore::run(&args[1..], &settings)),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("Devpilot could not start: {e:#}");
            std::process::exit(1);
        }
    };
    tracing::info!("Devpilot Backups is serving {}", app.url());
    app.run_until_stopped().await?;
    Ok(())
}
