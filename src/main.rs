use devpilot::config::Settings;
use devpilot::startup::Application;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    devpilot::telemetry::init();
    let settings = Settings::from_env()?;
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
