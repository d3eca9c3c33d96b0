//! Builds the app from settings: key, database, services, HTTP server.

use crate::admin::service::AdminService;
use crate::admin::settings::InstanceSettings;
use crate::auth::service::AccountService;
use crate::config::Settings;
use crate::db::Db;
use crate::destinations::service::DestinationService;
use crate::error::AppError;
use crate::grants::GrantService;
use crate::instances::Instance;
use crate::invitations::service::InvitationService;
use crate::oauth::service::OAuthService;
use crate::plans::service::PlanService;
use crate::providers::ProviderContext;
use crate::runs::runner::Runner;
use crate::servers::service::ServerService;
use crate::sessions::SessionService;
use crate::workspaces::service::WorkspaceService;
use actix_session::SessionMiddleware;
use actix_session::config::CookieContentSecurity;
use actix_session::storage::CookieSessionStore;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use std::net::TcpListener;
use std::sync::Arc;
use tracing_actix_web::TracingLogger;

pub struct Application {
    port: u16,
    host: String,
    server: Server,
    /// Holds the data dir's instance lock while the server runs.
    _instance: Instance,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        crate::data_dir::secure(&settings)?;
        let (url, max, wait) = (settings.database_url.clone(), settings.db_max_connections, settings.db_timeout);
        let db = actix_web::rt::task::spawn_blocking(move || Db::connect_waiting(&url, max, wait)).await??;
        let cipher = Arc::new(crate::keys::load(&settings, &db).await?);
        let session_key = Key::from(&cipher.derive("session-cookie"));
        let jwt_keys = web::Data::new(crate::api::auth::JwtKeys::new(&cipher.derive("api-jwt")));
        let instance = Instance::claim(&settings.data_dir);

        let devpilot = Arc::new(crate::hostfs::private::at_start(&settings)?);
        let grant_service =
            GrantService::new(db.clone(), devpilot, settings.allowed_paths.clone(), settings.local_backup_dir.clone());
        crate::runs::own_folders::move_shared_backups(&db, &settings.local_backup_dir)
            .await
            .context("moving local backups into their workspaces' folders")?;
        let providers = ProviderContext::new(settings.provider.clone(), settings.local_backup_dir.clone())?;
        let instance_backup = crate::instance_backup::service::InstanceBackupService::new(
            db.clone(),
            cipher.clone(),
            providers.clone(),
            settings.data_dir.clone(),
        );
        tokio::spawn(crate::instance_backup::service::run(instance_backup.clone(), settings.scheduler_tick));
        let instance_backup = web::Data::new(instance_backup);
        let servers = web::Data::new(ServerService::new(db.clone(), cipher.clone(), providers.clone()));
        let destination_service =
            DestinationService::new(db.clone(), cipher.clone(), providers, grant_service.clone(), instance.id());
        let destinations = web::Data::new(destination_service.clone());
        let rendered_pages = web::Data::new(crate::destinations::list::RenderedPages::default());
        let session_service =
            SessionService::new(db.clone(), settings.identity.session_idle, settings.identity.session_max);
        let accounts =
            web::Data::new(AccountService::new(db.clone(), session_service.clone(), settings.identity.sign_in_delay));
        let workspace_service = WorkspaceService::new(db.clone(), settings.identity.allow_workspace_creation);
        let admin = web::Data::new(AdminService::new(
            db.clone(),
            workspace_service.clone(),
            session_service.clone(),
            settings.local_backup_dir.clone(),
        ));
        let workspaces = web::Data::new(workspace_service);
        let sessions = web::Data::new(session_service);
        let proxies = web::Data::new(settings.identity.trusted_proxies.clone());
        let instance_settings = web::Data::new(InstanceSettings::new(&settings));
        let tokens = web::Data::new(crate::auth::tokens::TokenService::new(db.clone()));
        let metrics = web::Data::new(crate::metrics::service::MetricsService::new(db.clone()));
        let audit = web::Data::new(crate::audit::service::AuditService::new(db.clone()));
        let plans = web::Data::new(
            PlanService::new(db.clone(), cipher.clone(), grant_service.clone())
                .with_destinations(destination_service.clone()),
        );
        let runner = Runner::new(
            db.clone(),
            destination_service.clone(),
            cipher.clone(),
            grant_service.clone(),
            settings.data_dir.clone(),
            instance.id(),
        )
        .with_clock(settings.clock);
        let retention =
            web::Data::new(crate::plans::retention_service::RetentionService::new(db.clone(), settings.clock));
        let grants = web::Data::new(grant_service);
        crate::runs::recovery::at_start(&runner, settings.instance_timeout)
            .await
            .context("recovering what a stopped server left running")?;
        tokio::spawn(crate::runs::recovery::keep_alive(runner.clone(), settings.instance_timeout));
        tokio::spawn(crate::runs::scheduler::run(runner.clone(), settings.scheduler_tick));
        tokio::spawn(crate::destinations::revalidation::run(
            destination_service.clone(),
            settings.revalidate_every,
            settings.scheduler_tick,
        ));
        let runner = web::Data::new(runner);
        let uploads =
            web::Data::new(crate::web::upload::UploadLimits::new(settings.data_dir.clone(), settings.import_max_bytes));

        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
        let port = listener.local_addr()?.port();
        let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{}:{port}", settings.host));
        let mailer = settings.mail.as_ref().map(crate::mail::Mailer::new).transpose()?;
        let invitations = web::Data::new(InvitationService::new(
            db.clone(),
            mailer,
            public_url,
            settings.identity.invitation_lifetime,
        ));
        let own_host = match settings.host.as_str() {
            "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
            host => host,
        };
        let database_service = crate::databases::service::DatabaseService::new(
            db.clone(),
            cipher.clone(),
            destination_service.clone(),
            runner.get_ref().clone(),
            settings.pitr.clone(),
            format!("http://{own_host}:{port}"),
        );
        tokio::spawn(crate::databases::archiver::run(database_service.clone(), settings.instance_timeout));
        let overview = web::Data::new(crate::overview::service::OverviewService::new(
            db.clone(),
            plans.get_ref().clone(),
            database_service.clone(),
        ));
        let databases = web::Data::new(database_service);
        let notification_service = crate::notifications::service::NotificationService::new(
            db.clone(),
            cipher.clone(),
            settings.notifications.clone(),
            settings.provider.outbound,
            instance.id(),
        )?;
        tokio::spawn(crate::notifications::worker::run(notification_service.clone()));
        tokio::spawn(crate::notifications::watch::run(notification_service.clone()));
        let notifications = web::Data::new(notification_service);
        let recovery_keys = web::Data::new(crate::recovery_key::service::RecoveryKeyService::new(
            db.clone(),
            cipher.clone(),
            accounts.get_ref().clone(),
        ));
        let oauth = web::Data::new(OAuthService::new(db, cipher, destination_service, &settings, port)?);
        let secure = settings.secure_cookies;
        let consent_origin: Vec<String> =
            crate::web::headers::origin(&settings.provider.endpoints.google_oauth_authorize).into_iter().collect();
        // Microsoft's login hosts too: "Connect OneDrive" redirects a form's POST there.
        let consent_origin: Vec<String> = consent_origin
            .into_iter()
            .chain(settings.provider.endpoints.microsoft.logins().iter().filter_map(|l| crate::web::headers::origin(l)))
            .collect();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(crate::auth::csrf::protect))
                .wrap(crate::web::headers::security_headers(secure, &consent_origin))
                .wrap(
                    SessionMiddleware::builder(CookieSessionStore::default(), session_key.clone())
                        .cookie_name("devpilot_session".into())
                        .cookie_content_security(CookieContentSecurity::Private)
                        .cookie_http_only(true)
                        .cookie_same_site(SameSite::Lax)
                        .cookie_secure(secure)
                        .build(),
                )
                .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
                .app_data(crate::web::limits::form_config())
                .app_data(crate::web::limits::query_config())
                .app_data(destinations.clone())
                .app_data(rendered_pages.clone())
                .app_data(servers.clone())
                .app_data(accounts.clone())
                .app_data(workspaces.clone())
                .app_data(sessions.clone())
                .app_data(proxies.clone())
                .app_data(invitations.clone())
                .app_data(admin.clone())
                .app_data(instance_settings.clone())
                .app_data(plans.clone())
                .app_data(databases.clone())
                .app_data(runner.clone())
                .app_data(uploads.clone())
                .app_data(oauth.clone())
                .app_data(tokens.clone())
                .app_data(audit.clone())
                .app_data(grants.clone())
                .app_data(jwt_keys.clone())
                .app_data(overview.clone())
                .app_data(metrics.clone())
                .app_data(notifications.clone())
                .app_data(retention.clone())
                .app_data(recovery_keys.clone())
                .app_data(instance_backup.clone())
                .route("/healthz", web::get().to(|| async { HttpResponse::Ok().body("ok") }))
                .route("/static/{file:.*}", web::get().to(crate::web::assets::serve))
                .route("/favicon.ico", web::get().to(crate::web::assets::favicon))
                .configure(crate::api::routes)
                .configure(crate::account::html::routes)
                .configure(crate::admin::routes)
                .configure(crate::api::html::routes)
                .configure(crate::audit::html::routes)
                .configure(crate::auth::html::routes)
                .configure(crate::databases::html::routes)
                .configure(crate::databases::wal_route::routes)
                .configure(crate::destinations::html::routes)
                .configure(crate::grants::html::routes)
                .configure(crate::invitations::html::routes)
                .configure(crate::oauth::html::routes)
                .configure(crate::plans::html::routes)
                .configure(crate::plans::retention_html::routes)
                .configure(crate::runs::html::routes)
                .configure(crate::servers::html::routes)
                .configure(crate::workspaces::html::routes)
                .configure(crate::overview::html::routes)
                .configure(crate::metrics::html::routes)
                .configure(crate::notifications::html::routes)
                .configure(crate::recovery_key::html::routes)
                .configure(crate::instance_backup::html::routes)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(AppError::NotFound("Page not found".into()))
                }))
        })
        .listen(listener)?
        .run();
        Ok(Application { port, host: settings.host, server, _instance: instance })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
