use super::*;

fn access(granted: Vec<DatabaseServer>, own: Option<&str>) -> DatabaseAccess {
    DatabaseAccess { granted, own: own.and_then(OwnDatabase::from_url) }
}

fn tcp(host: &str, port: u16) -> DatabaseServer {
    DatabaseServer::Tcp { host: host.into(), port }
}

async fn reach(url: &str, access: &DatabaseAccess) -> Result<Reachable, PostgresError> {
    PostgresUrl::parse(url).expect(url).reach(access).await
}

#[test]
fn this_machine_and_private_ranges_are_host_resources() {
    for ip in ["127.0.0.1", "::1", "0.0.0.0", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "fd00::1"] {
        assert!(is_host_resource(ip.parse().expect("ip")), "{ip}");
    }
    for ip in ["::ffff:127.0.0.1", "::ffff:10.0.0.1"] {
        assert!(is_host_resource(ip.parse().expect("ip")), "{ip}");
    }
    for ip in ["8.8.8.8", "2001:db8::1", "172.32.0.1", "100.128.0.1"] {
        assert!(!is_host_resource(ip.parse().expect("ip")), "{ip}");
    }
}

#[tokio::test]
async fn loopback_and_private_servers_need_a_grant_for_their_port() {
    let none = access(vec![], None);
    for url in [
        "postgres://u@127.0.0.1:5432/db",
        "postgres://u@[::ffff:127.0.0.1]:5432/db",
        "postgres://u@10.0.0.5/db",
        "postgres://u@localhost/db",
        "postgres://u@0.0.0.0/db",
    ] {
        let refusal = reach(url, &none).await.expect_err(url).to_string();
        assert!(refusal.contains("not granted to this workspace"), "{url}: {refusal}");
    }
    let granted = access(vec![tcp("127.0.0.1", 5432)], None);
    let ok = reach("postgres://u@127.0.0.1:5432/db", &granted).await.expect("granted");
    assert_eq!(ok.endpoint, Endpoint::Tcp(vec!["127.0.0.1:5432".parse().expect("addr")]));
    assert!(reach("postgres://u@127.0.0.1:5433/db", &granted).await.is_err(), "another port");
    assert!(reach("postgres://u@127.0.0.2:5432/db", &granted).await.is_err(), "another address");
}

#[tokio::test]
async fn metadata_addresses_are_refused_even_when_granted() {
    let granted = access(vec![tcp("169.254.169.254", 5432), tcp("100.100.100.200", 5432)], None);
    for url in [
        "postgres://u@169.254.169.254:5432/db",
        "postgres://u@[::ffff:169.254.169.254]:5432/db",
        "postgres://u@[fd00:ec2::254]:5432/db",
        "postgres://u@100.100.100.200:5432/db",
        "postgres://u@0xa9fea9fe:5432/db",
    ] {
        let refusal = reach(url, &granted).await.expect_err(url).to_string();
        assert!(refusal.contains("never connects there"), "{url}: {refusal}");
    }
}

#[tokio::test]
async fn sockets_need_their_folder_granted_and_say_nothing_of_the_file_system() {
    let dir = std::env::temp_dir();
    let url = format!("postgres://u@/db?host={}", dir.display());
    let refusal = reach(&url, &access(vec![], None)).await.expect_err("not granted").to_string();
    assert!(refusal.contains("not granted to this workspace"), "{refusal}");
    let missing = reach("postgres://u@/db?host=/no/such/folder", &access(vec![], None)).await;
    assert!(missing.expect_err("missing").to_string().contains("not granted to this workspace"));
    let granted = access(vec![DatabaseServer::Socket { dir: dir.clone() }], None);
    let ok = reach(&url, &granted).await.expect("granted");
    let resolved = std::fs::canonicalize(&dir).expect("resolve");
    assert_eq!(ok.endpoint, Endpoint::Socket(resolved.join(".s.PGSQL.5432")));
}

#[tokio::test]
async fn devpilots_own_database_is_refused_by_any_spelling() {
    let own = "postgres://devpilot:pw@127.0.0.1:5432/devpilot?sslmode=disable";
    let granted = access(vec![tcp("127.0.0.1", 5432), tcp("localhost", 5432), tcp("::1", 5432)], Some(own));
    for url in
        ["postgres://x@127.0.0.1:5432/devpilot", "postgres://x@localhost/devpilot", "postgres://x@[::1]/devpilot"]
    {
        assert_eq!(reach(url, &granted).await.expect_err(url), PostgresError::OwnDatabase, "{url}");
    }
    assert!(reach("postgres://x@127.0.0.1:5432/other", &granted).await.is_ok(), "another database");
}

#[test]
fn devpilots_own_url_is_read_leniently() {
    let own = OwnDatabase::from_url("postgresql://u@db1:6000,db2/app?sslmode=require").expect("own");
    assert_eq!((own.hosts.clone(), own.port, own.dbname.as_str()), (vec!["db1".into(), "db2".into()], 6000, "app"));
    let socket = OwnDatabase::from_url("postgres:///app?host=/run/postgresql").expect("socket");
    assert_eq!(socket.hosts, vec!["/run/postgresql".to_owned()]);
    let default = OwnDatabase::from_url("postgres://devpilot@/").expect("defaults");
    assert_eq!((default.hosts, default.dbname.as_str()), (vec![DEFAULT_SOCKET_DIR.to_owned()], "devpilot"));
    assert_eq!(OwnDatabase::from_url("sqlite://x.db"), None);
}
