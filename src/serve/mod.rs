//! `herald serve`: the small web endpoint readers talk to — subscribe with double
//! opt-in, confirm, one-click unsubscribe — plus the static site and a live preview
//! of any edition.
//!
//! Decisions worth knowing:
//! - Nothing is stored until an address is confirmed: the confirmation link carries the
//!   address and an expiry, HMAC-signed ([`crate::newsletter::token`]). The subscribe form answers
//!   the same page, at the same speed (the mail goes out in the background), whatever
//!   the address's state, so it reveals nothing about the list.
//! - Cross-site request forgery: a browser POST to `/subscribe` must come from the site
//!   itself: `Sec-Fetch-Site` must be `same-origin`/`same-site`/`none`, or, from a
//!   browser that does not send it, `Origin` must be `site.base_url`'s origin or this
//!   server's own host. `/unsubscribe` needs the subscriber's own
//!   signed token, which a forger does not have, so the RFC 8058 one-click POST from a
//!   mail provider (no `Origin`) works as it must.
//! - Every response carries `Referrer-Policy: same-origin` (tokens live in URLs and
//!   must not leak to other sites; `no-referrer` would make browsers send
//!   `Origin: null` on the site's own forms) and
//!   `X-Content-Type-Options: nosniff`; the request log prints the path without the
//!   query, so tokens never reach logs.

mod caching;
mod preview;
pub(crate) use preview::serve_preview;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, Form, Path as UrlPath, Query, Request, State as AxumState,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use rusqlite::Connection;
use serde::Deserialize;
use tera::Context;
use tower_http::services::ServeDir;

use crate::build::Prepared;
use crate::config::Config;
use crate::content::edition::Week;
use crate::newsletter::delivery::{DeliveryError, Route};
use crate::newsletter::encoding::encoded_body;
use crate::newsletter::message::{Envelope, compose, parse_mailbox};
use crate::newsletter::token::{Purpose, TokenKey, with_token};
use crate::render::site::SiteMeta;
use crate::render::templates::Templates;
use crate::store::State;
use crate::store::subscribers::{Status, Subscribers, normalise_email};

#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    #[error(
        "cannot listen on {addr}: {source}\n  hint: is another process using the port? try --listen 127.0.0.1:8081"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start the server: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    State(#[from] crate::store::StateError),
    #[error(transparent)]
    Template(#[from] crate::render::templates::TemplateError),
    #[error(transparent)]
    Token(#[from] crate::newsletter::token::TokenError),
    #[error(transparent)]
    Route(#[from] DeliveryError),
    #[error(transparent)]
    Message(#[from] crate::newsletter::message::MessageError),
}

/// Why one request could not be answered as asked; logged, never shown in full.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error(transparent)]
    Template(#[from] crate::render::templates::TemplateError),
    #[error(transparent)]
    State(#[from] crate::store::StateError),
    #[error(transparent)]
    Build(#[from] crate::build::BuildError),
    #[error(transparent)]
    Message(#[from] crate::newsletter::message::MessageError),
    #[error("sending failed: {0}")]
    Send(#[from] crate::newsletter::transport::Failure),
}

struct App {
    config: Config,
    meta: SiteMeta,
    db: Mutex<Connection>,
    keys: TokenKey,
    /// Where confirmation mails go: the same route as the newsletter.
    route: Route,
    from: Mailbox,
    limits: Mutex<HashMap<String, Vec<Instant>>>,
    /// Fixed clock for previews and tests (`HERALD_NOW`); real time otherwise.
    clock: Option<DateTime<Utc>>,
}

impl App {
    fn now(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(Utc::now)
    }

    /// Loads templates fresh, so an editor sees template edits without a restart.
    fn render(&self, name: &str, extra: impl FnOnce(&mut Context)) -> Result<String, RequestError> {
        let templates = Templates::load(&self.config.paths.templates)?;
        let mut context = Context::new();
        context.insert("site", &self.meta);
        context.insert("confirm_hours", &self.config.serve.confirm_hours);
        // Answers to a request, not pages to index: no canonical address.
        context.insert("page_url", "");
        extra(&mut context);
        Ok(templates.render(name, &context)?)
    }

    fn page(&self, status: StatusCode, name: &str, extra: impl FnOnce(&mut Context)) -> Response {
        match self.render(name, extra) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!("{e}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "template error; see the server log",
                )
                    .into_response()
            }
        }
    }

    fn message(&self, status: StatusCode, heading: &str, message: &str) -> Response {
        self.page(status, "message.html", |c| {
            c.insert("heading", heading);
            c.insert("message", message);
        })
    }

    /// Sliding one-hour window; `true` when the request may go ahead.
    fn allow(&self, key: String, per_hour: u32) -> bool {
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let window = Duration::from_secs(3600);
        let hits = limits.entry(key).or_default();
        hits.retain(|t| now.duration_since(*t) < window);
        if hits.len() as u32 >= per_hour {
            return false;
        }
        hits.push(now);
        true
    }

    fn confirm_token(&self, email: &str) -> String {
        let expires = self.now().timestamp() + self.config.serve.confirm_hours as i64 * 3600;
        self.keys
            .sign(Purpose::Confirm, &format!("{email}\n{expires}"))
    }

    /// The address of a valid, unexpired confirmation token.
    fn check_confirm_token(&self, token: &str) -> Option<String> {
        let payload = self.keys.verify(Purpose::Confirm, token).ok()?;
        let (email, expires) = payload.split_once('\n')?;
        let expires: i64 = expires.parse().ok()?;
        (self.now().timestamp() <= expires).then(|| email.to_string())
    }
}

type Shared = Arc<App>;

/// Runs the server until SIGTERM or Ctrl-C; prints `listening on http://ADDR` first.
pub(crate) fn serve(
    config: Config,
    listen: Option<String>,
    clock: Option<DateTime<Utc>>,
) -> Result<(), ServeError> {
    let addr = listen.unwrap_or_else(|| config.serve.listen.clone());
    serve_on(config, bind(&addr)?, clock)
}

/// A listener on `addr` (`127.0.0.1:0` picks a free port).
fn bind(addr: &str) -> Result<std::net::TcpListener, ServeError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(ServeError::Runtime)?;
    Ok(listener)
}

/// Serves on `listener` until SIGTERM or Ctrl-C.
fn serve_on(
    config: Config,
    listener: std::net::TcpListener,
    clock: Option<DateTime<Utc>>,
) -> Result<(), ServeError> {
    let state = State::open(&config.paths.state)?;
    // The same site values the static pages were built with (the description is
    // the newest column introduction), so served pages match them.
    let meta = Prepared::load(&config, &state, clock.unwrap_or_else(Utc::now))
        .map(|prepared| prepared.meta)
        .unwrap_or_else(|_| SiteMeta::new(&config, None));
    drop(state);
    // Fail at start, not on the first request, if templates are broken.
    Templates::load(&config.paths.templates)?;
    let conn = Connection::open(&config.paths.state).map_err(|source| {
        crate::store::StateError::Sqlite {
            path: config.paths.state.clone(),
            source,
        }
    })?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|source| crate::store::StateError::Sqlite {
            path: config.paths.state.clone(),
            source,
        })?;
    let route = Route::from_config(&config)?;
    let app = Arc::new(App {
        meta,
        keys: TokenKey::for_site(&config)?,
        from: config.newsletter.from.clone(),
        db: Mutex::new(conn),
        route,
        limits: Mutex::new(HashMap::new()),
        clock,
        config,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(ServeError::Runtime)?;
        let local = listener.local_addr().map_err(ServeError::Runtime)?;
        println!("listening on http://{local}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(
            listener,
            router(app).into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(ServeError::Runtime)
    })?;
    eprintln!("herald serve: shut down");
    Ok(())
}

fn router(app: Shared) -> Router {
    let static_site =
        ServeDir::new(&app.config.paths.output).append_index_html_on_directories(true);
    let body_limit = app.config.serve.max_body_bytes;
    Router::new()
        .route("/subscribe", get(subscribe_page).post(subscribe))
        .route("/confirm", get(confirm))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/preview/{week}", get(preview))
        .route("/healthz", get(healthz))
        .fallback_service(static_site)
        .layer(middleware::from_fn(caching::conditional_get))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(log_and_harden))
        .with_state(app)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// One log line per request (path only: queries carry tokens) and safe headers.
async fn log_and_harden(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let start = Instant::now();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    eprintln!(
        "{method} {path} {} {}ms",
        response.status().as_u16(),
        start.elapsed().as_millis()
    );
    response
}

async fn healthz(AxumState(app): AxumState<Shared>) -> Response {
    let ok = app
        .db
        .lock()
        .map(|db| db.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)).is_ok())
        .unwrap_or(false);
    if ok {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "state unavailable\n").into_response()
    }
}

async fn subscribe_page(AxumState(app): AxumState<Shared>) -> Response {
    app.page(StatusCode::OK, "subscribe.html", |c| {
        c.insert("state", "form")
    })
}

#[derive(Deserialize)]
struct SubscribeForm {
    email: String,
}

fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// Whether a browser request comes from the site itself (see the module notes).
/// Browsers send `Sec-Fetch-Site`; where it is absent, a non-null `Origin` must be
/// the site's. Requests with neither header are not from a browser form.
fn same_site(app: &App, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"same-site" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin == origin_of(&app.config.site.base_url)
        || origin == format!("http://{host}")
        || origin == format!("https://{host}")
}

fn client_ip(app: &App, peer: SocketAddr, headers: &HeaderMap) -> String {
    if app.config.serve.trust_forwarded_for
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
    {
        return ip.trim().to_string();
    }
    peer.ip().to_string()
}

async fn subscribe(
    AxumState(app): AxumState<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SubscribeForm>,
) -> Response {
    if !same_site(&app, &headers) {
        return app.message(
            StatusCode::FORBIDDEN,
            "無法處理",
            "這個表單只能從本站送出。請回到網站重新填寫。",
        );
    }
    let ip = client_ip(&app, peer, &headers);
    if !app.allow(format!("ip:{ip}"), app.config.serve.subscribe_per_ip) {
        return app.message(
            StatusCode::TOO_MANY_REQUESTS,
            "請稍後再試",
            "短時間內的訂閱要求太多，請一小時後再試。",
        );
    }
    let email = match normalise_email(&form.email) {
        Ok(email) => email,
        Err(_) => {
            return app.page(StatusCode::BAD_REQUEST, "subscribe.html", |c| {
                c.insert("state", "form");
                c.insert("error", "這不是有效的電子郵件地址，請再檢查一次。");
            });
        }
    };
    if !app.allow(
        format!("address:{email}"),
        app.config.serve.subscribe_per_address,
    ) {
        return app.message(
            StatusCode::TOO_MANY_REQUESTS,
            "請稍後再試",
            "短時間內的訂閱要求太多，請一小時後再試。",
        );
    }
    let mail_app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = send_confirmation(&mail_app, &email).await {
            tracing::error!("confirmation mail could not be sent: {e}");
            eprintln!("error: confirmation mail could not be sent: {e}");
        }
    });
    app.page(StatusCode::OK, "subscribe.html", |c| {
        c.insert("state", "sent")
    })
}

async fn send_confirmation(app: &App, email: &str) -> Result<(), RequestError> {
    let confirm_url = format!(
        "{}confirm?token={}",
        app.config.site.base_url,
        app.confirm_token(email)
    );
    let subject = format!("請確認訂閱《{}》電子報", app.meta.title);
    let render = |name: &str| {
        app.render(name, |c| {
            c.insert("confirm_url", &confirm_url);
            c.insert("subject", &subject);
        })
    };
    let (html, text) = (render("confirm_email.html")?, render("confirm_email.txt")?);
    let to = parse_mailbox("subscriber", email)?;
    let digest_id = crate::newsletter::message::deterministic_message_id(
        "confirm",
        &confirm_url,
        app.config.site_domain(),
    );
    let message = compose(
        &subject,
        Envelope {
            from: &app.from,
            reply_to: None,
            to,
            message_id: digest_id,
            date: app.now().into(),
            list: None,
        },
        encoded_body(html),
        encoded_body(text),
    )?;
    app.route
        .send_one(message.envelope(), &message.formatted())
        .await?;
    Ok(())
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn confirm(AxumState(app): AxumState<Shared>, Query(query): Query<TokenQuery>) -> Response {
    let Some(email) = query
        .token
        .as_deref()
        .and_then(|t| app.check_confirm_token(t))
    else {
        return app.message(
            StatusCode::BAD_REQUEST,
            "連結無效",
            "這個確認連結無效或已過期。請重新填寫訂閱表單，我們會寄一封新的確認信。",
        );
    };
    let now = app.now();
    let added = {
        let db = app.db.lock().unwrap_or_else(|e| e.into_inner());
        let subscribers = Subscribers::new(&db);
        // Their own confirmation brings back anyone who left, even one who was
        // forgotten or complained.
        subscribers.add(&email, "", now, true).and_then(|added| {
            subscribers.unsuppress(&app.keys.address_hash(&email))?;
            Ok(added)
        })
    };
    match added {
        Ok(_) => app.page(StatusCode::OK, "confirm.html", |c| {
            c.insert("email", &email)
        }),
        Err(e) => {
            eprintln!("error: confirming a subscriber failed: {e}");
            app.message(
                StatusCode::SERVICE_UNAVAILABLE,
                "請稍後再試",
                "暫時無法完成訂閱，請稍後再開啟一次這個連結。",
            )
        }
    }
}

fn invalid_unsubscribe(app: &App) -> Response {
    app.message(
        StatusCode::BAD_REQUEST,
        "連結無效",
        "這個取消訂閱連結無效。請使用電子報信末的連結。",
    )
}

async fn unsubscribe_page(
    AxumState(app): AxumState<Shared>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let Some(token) = query
        .token
        .filter(|t| app.keys.verify_unsubscribe(t).is_ok())
    else {
        return invalid_unsubscribe(&app);
    };
    let action = with_token(&app.config.newsletter.unsubscribe_url, &token);
    app.page(StatusCode::OK, "unsubscribe.html", |c| {
        c.insert("state", "ask");
        c.insert("action", &action);
    })
}

/// RFC 8058 one-click: the token alone decides; answers 200 with nothing further to do.
async fn unsubscribe(
    AxumState(app): AxumState<Shared>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let Some(email) = query
        .token
        .as_deref()
        .and_then(|t| app.keys.verify_unsubscribe(t).ok())
    else {
        return invalid_unsubscribe(&app);
    };
    let now = app.now();
    let result = {
        let db = app.db.lock().unwrap_or_else(|e| e.into_inner());
        Subscribers::new(&db).set_status(&email, Status::Unsubscribed, now)
    };
    match result {
        // An address no longer on the list is already unsubscribed: same answer.
        Ok(()) | Err(crate::store::subscribers::SubscriberError::NotFound(_)) => {
            app.page(StatusCode::OK, "unsubscribe.html", |c| {
                c.insert("state", "done")
            })
        }
        Err(e) => {
            eprintln!("error: unsubscribing failed: {e}");
            app.message(
                StatusCode::SERVICE_UNAVAILABLE,
                "請稍後再試",
                "暫時無法取消訂閱，請稍後再試一次。",
            )
        }
    }
}

async fn preview(AxumState(app): AxumState<Shared>, UrlPath(week): UrlPath<String>) -> Response {
    let week = week.strip_suffix(".html").unwrap_or(&week);
    let Ok(week) = week.parse::<Week>() else {
        return app.message(
            StatusCode::BAD_REQUEST,
            "無效的週次",
            "請用 2026-W04 這樣的格式指定週次。",
        );
    };
    let app2 = app.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let config = &app2.config;
        let state = State::open_read_only(&config.paths.state)?;
        let prepared = Prepared::load(config, &state, app2.now())?;
        let digest = prepared.digest(config, week)?;
        Ok::<_, RequestError>(digest.map(|d| d.personalise(&config.newsletter.unsubscribe_url).0))
    })
    .await;
    match rendered {
        Ok(Ok(Some(html))) => (StatusCode::OK, Html(html)).into_response(),
        Ok(Ok(None)) => app.message(
            StatusCode::NOT_FOUND,
            "這一期沒有內容",
            "這一週沒有文章，所以沒有電子報。",
        ),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("preview failed:\n{e}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("preview failed: {e}\n"),
        )
            .into_response(),
    }
}
