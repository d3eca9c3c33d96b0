use super::*;
use futures::TryStreamExt;
use std::io::Write;

fn stream_of(data: Vec<u8>) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = data.chunks(1000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(chunks).boxed()
}

fn refusal(head: &[u8]) -> String {
    match DumpFormat::sniff(head) {
        Err(DumpError::NotADump(why)) => why,
        other => {
            panic!("{:?}: expected a refusal, got {other:?}", String::from_utf8_lossy(&head[..head.len().min(40)]))
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

#[test]
fn custom_archives_and_sql_are_told_apart() {
    let custom = b"PGDMP\x01\x0f\x00\x04\x08\x01\x01rest";
    assert_eq!(DumpFormat::sniff(custom).expect("custom"), DumpFormat::Custom);
    let sql = [
        "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\nSET x = 1;",
        "\u{feff}/* hi */ create table t();",
        "select 1",
    ];
    for text in sql {
        assert_eq!(DumpFormat::sniff(text.as_bytes()).expect(text), DumpFormat::PlainSql, "{text}");
    }
    let long_preamble = format!("-- {}\n", "é".repeat(HEAD));
    assert_eq!(DumpFormat::sniff(&long_preamble.as_bytes()[..HEAD]).expect("cut"), DumpFormat::PlainSql);
}

#[test]
fn what_is_not_a_dump_is_named() {
    let directory_toc = b"PGDMP\x01\x0f\x00\x04\x08\x05\x01";
    assert!(refusal(directory_toc).contains("--format=custom"));
    assert!(refusal(b"").contains("empty"));
    assert!(refusal(b"  \n-- only a comment\n").contains("no SQL statement"));
    assert!(refusal(b"Hello, this is a README\n").contains("does not start with an SQL statement"));
    assert!(refusal(b"SQLite format 3\0....").contains("SQLite"));
    assert!(refusal(&[0xfd, b'7', b'z', b'X', b'Z', 0, 1]).contains("xz"));
    assert!(refusal(b"PK\x03\x04zip").contains("zip"));
    assert!(refusal(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a]).contains("neither"));
    assert!(refusal(b"select 1;\0\0\0").contains("neither"), "NUL bytes are not SQL text");
    assert!(refusal(&gzip(b"select 1;")).contains("gzip"), "sniffed before unpacking");
    let mut tar = vec![0u8; 512];
    tar[..4].copy_from_slice(b"dump");
    tar[257..262].copy_from_slice(b"ustar");
    assert!(refusal(&tar).contains("tar archive"));
}

#[tokio::test]
async fn gzip_and_zstd_are_unpacked_as_they_stream() {
    let sql = format!("CREATE TABLE t (v text);\n{}", "INSERT INTO t VALUES ('x');\n".repeat(20_000));
    for (packed, compression) in [
        (gzip(sql.as_bytes()), Compression::Gzip),
        (zstd::encode_all(sql.as_bytes(), 3).expect("zstd"), Compression::Zstd),
    ] {
        let dump = Dump::read(stream_of(packed)).await.expect("a dump");
        assert_eq!((dump.format, dump.compression), (DumpFormat::PlainSql, Some(compression)));
        let body: Vec<Bytes> = dump.body.try_collect().await.expect("unpacked");
        assert_eq!(body.concat(), sql.as_bytes());
    }
    let plain = Dump::read(stream_of(sql.clone().into_bytes())).await.expect("plain");
    assert_eq!((plain.format, plain.compression), (DumpFormat::PlainSql, None));
}

#[tokio::test]
async fn damaged_or_doubly_compressed_input_is_refused_before_anything_runs() {
    let twice = gzip(&gzip(b"select 1;"));
    assert!(matches!(Dump::read(stream_of(twice)).await, Err(DumpError::NotADump(m)) if m.contains("twice")));
    let mut damaged = gzip(&b"select 1;\n".repeat(10_000));
    damaged.truncate(damaged.len() / 2);
    let cut = damaged[..20].to_vec();
    let error = Dump::read(stream_of(cut)).await.err().expect("a cut gzip header");
    assert!(error.to_string().contains("gzip"), "{error}");
    let binary_inside = zstd::encode_all(&[0u8, 1, 2, 3, 255][..], 3).expect("zstd");
    assert!(matches!(Dump::read(stream_of(binary_inside)).await, Err(DumpError::NotADump(_))));
}

#[test]
fn psql_line_numbers_are_the_files() {
    let message = "psql failed: psql:<stdin>:3: ERROR:  relation \"nope\" does not exist\nLINE 1: select * from nope;";
    assert_eq!(
        lines_of_the_file(message),
        "psql failed: line 2: ERROR:  relation \"nope\" does not exist\nLINE 1: select * from nope;"
    );
    assert_eq!(lines_of_the_file("psql:<stdin>:x psql:<stdin>:10:"), "psql:<stdin>:x line 9:");
}
