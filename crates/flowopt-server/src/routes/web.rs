//! The browser visualizer (`web/`), embedded in the binary so `flowopt serve` needs no files.

use axum::http::header;
use axum::response::IntoResponse;

macro_rules! asset {
    ($name:ident, $file:literal, $mime:literal) => {
        #[doc = concat!("`", $file, "`.")]
        pub async fn $name() -> impl IntoResponse {
            (
                [
                    (header::CONTENT_TYPE, $mime),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                include_str!(concat!("../../../../web/", $file)),
            )
        }
    };
}

asset!(index, "index.html", "text/html; charset=utf-8");
asset!(app, "app.js", "text/javascript; charset=utf-8");
asset!(common, "common.js", "text/javascript; charset=utf-8");
asset!(style, "style.css", "text/css; charset=utf-8");
asset!(docs, "docs.html", "text/html; charset=utf-8");
asset!(agents, "agents.html", "text/html; charset=utf-8");
asset!(agents_app, "agents.js", "text/javascript; charset=utf-8");
