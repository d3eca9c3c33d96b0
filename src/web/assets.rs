//! Static files, compiled into the binary so it runs from any working directory.

use actix_web::{HttpResponse, web};

const FILES: &[(&str, &str, &[u8])] = &[
    ("htmx.min.js", "text/javascript", include_bytes!("../../static/htmx.min.js")),
    ("app.js", "text/javascript", include_bytes!("../../static/app.js")),
    ("theme.js", "text/javascript", include_bytes!("../../static/theme.js")),
    ("app.css", "text/css", include_bytes!("../../static/app.css")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../static/favicon.svg")),
    ("icons/local.svg", "image/svg+xml", include_bytes!("../../static/icons/local.svg")),
    ("icons/s3.svg", "image/svg+xml", include_bytes!("../../static/icons/s3.svg")),
    ("icons/azure_blob.svg", "image/svg+xml", include_bytes!("../../static/icons/azure_blob.svg")),
    ("icons/sftp.svg", "image/svg+xml", include_bytes!("../../static/icons/sftp.svg")),
    ("icons/gcs.svg", "image/svg+xml", include_bytes!("../../static/icons/gcs.svg")),
    ("icons/google_drive.svg", "image/svg+xml", include_bytes!("../../static/icons/google_drive.svg")),
    ("icons/onedrive.svg", "image/svg+xml", include_bytes!("../../static/icons/onedrive.svg")),
    ("icons/cloudinary.svg", "image/svg+xml", include_bytes!("../../static/icons/cloudinary.svg")),
];

pub async fn serve(path: web::Path<String>) -> HttpResponse {
    file(path.as_str())
}

/// `/favicon.ico`, which browsers and tools ask for without reading the page's icon link.
pub async fn favicon() -> HttpResponse {
    file("favicon.svg")
}

fn file(name: &str) -> HttpResponse {
    match FILES.iter().find(|(known, _, _)| *known == name) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header(("Cache-Control", "public, max-age=3600"))
            .body(*body),
        None => HttpResponse::NotFound().finish(),
    }
}
