use super::*;

fn refused(input: &str) -> String {
    PostgresUrl::parse(input).expect_err(input).to_string()
}

#[test]
fn parses_the_supported_settings_and_hides_the_password() {
    let url = PostgresUrl::parse(
        "postgresql://app:s%40cret@DB.Example:6543/prod?sslmode=verify-full&connect_timeout=3&application_name=nightly",
    )
    .expect("parse");
    assert_eq!(url.user, "app");
    assert_eq!(url.password().map(|p| p.expose_secret().to_owned()), Some("s@cret".into()));
    assert_eq!(url.host, DatabaseHost::Name("db.example".into()));
    assert_eq!((url.port, url.dbname.as_str(), url.sslmode), (6543, "prod", SslMode::VerifyFull));
    assert_eq!(url.connect_timeout, Duration::from_secs(3));
    let shown = url.display_url();
    assert_eq!(
        shown,
        "postgres://app@db.example:6543/prod?sslmode=verify-full&connect_timeout=3&application_name=nightly"
    );
    assert!(!format!("{url:?}").contains("cret"));
    let sealed = url.to_secret();
    assert!(sealed.expose_secret().starts_with("postgres://app:s%40cret@db.example:6543/prod"));
    let again = PostgresUrl::parse(sealed.expose_secret()).expect("round trip");
    assert_eq!(again.display_url(), shown);
    assert_eq!(again.password().map(|p| p.expose_secret().to_owned()), Some("s@cret".into()));
}

#[test]
fn hosts_are_addresses_names_or_socket_folders() {
    let v6 = PostgresUrl::parse("postgres://u@[::1]:5433/db").expect("v6");
    assert_eq!(v6.host, DatabaseHost::Address("::1".parse().expect("ip")));
    assert_eq!(v6.display_url(), "postgres://u@[::1]:5433/db");
    let socket = PostgresUrl::parse("postgres://u@/db?host=/var/run/postgresql").expect("socket");
    assert_eq!(socket.host, DatabaseHost::Socket("/var/run/postgresql".into()));
    let again = PostgresUrl::parse(&socket.display_url()).expect("socket round trip");
    assert_eq!(again.host, socket.host);
    let encoded = PostgresUrl::parse("postgres://u@%2Frun%2Fpostgresql:5432/db").expect("encoded socket");
    assert_eq!(encoded.host, DatabaseHost::Socket("/run/postgresql".into()));
}

#[test]
fn what_libpq_would_also_read_is_refused_by_name() {
    for (input, expected) in [
        ("postgres://u@h/db?hostaddr=169.254.169.254", "hostaddr= is not accepted"),
        ("postgres://u@h1,h2/db", "several hosts"),
        ("postgres://u@h1:5432,h2:5433/db", "several hosts"),
        ("postgres://u@/db?host=h1,h2", "several hosts"),
        ("postgres://u@h/db?service=prod", "service= is not accepted"),
        ("postgres://u@h/db?passfile=/root/.pgpass", "passfile= is not accepted"),
        ("postgres://u@h/db?options=-c%20search_path%3Dx", "options= is not accepted"),
        ("postgres://u@h/db?sslrootcert=/etc/ssl/x.pem", "names a file on this server"),
        ("postgres://u@h/db?sslkey=/root/.ssh/id_rsa", "names a file on this server"),
        ("postgres://u@h/db?target_session_attrs=any", "is not a setting Devpilot accepts"),
        ("postgres://u@h/db?password=x", "give the password in the URL itself"),
        ("postgres://u@h/db?sslmode=allow", "sslmode “allow”"),
        ("postgres://u@h/db?sslmode=disable&sslmode=require", "given twice"),
        ("postgres://u@h/db?host=/run/postgresql", "host is given twice"),
        ("postgres://u@h/db?connect_timeout=0", "connect_timeout"),
        ("postgres://u@/db?host=@abstract", "not a host"),
        ("postgres://u@h:99999/db", "port"),
        ("postgres://h/db", "no user name"),
        ("postgres://u@h", "no database name"),
        ("postgres://u@h/", "no database name"),
        ("postgres://u@/db", "no host"),
        ("mysql://u:p@h/db", "must start with postgres://"),
        ("not a url", "not a connection URL"),
    ] {
        let message = refused(input);
        assert!(message.contains(expected), "{input}: {message}");
    }
    let long = format!("postgres://u@h/{}", "d".repeat(64));
    assert!(refused(&long).contains("63 bytes"));
    assert!(!refused("postgres://u:hunter2@h/db?service=x").contains("hunter2"));
}
