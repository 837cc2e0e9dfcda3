//! The web page in a real browser: the `imgd` binary on the memory engine
//! with its demo host, Debian's headless Chromium driven over WebDriver by
//! `chromedriver` and fantoccini. The test signs in with the token, reads the
//! demo images from the table, pulls an image and watches every layer's
//! progress bar finish, removes an image through the confirmation dialog,
//! runs a prune preview (checking through the API that nothing was removed),
//! looks at the disk-usage chart, sees the "update available" badge once a
//! tag falls behind its registry, and plans a cleanup (nothing removed)
//! before confirming it (then removed). Screenshots go to
//! `target/browser-screenshots/`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` the test prints a
//! SKIP line and passes, unless `CI=true`, where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fantoccini::{Client, ClientBuilder, Locator, key::Key};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const TOKEN: &str = "browser-test-token-7d1e9a";
/// How long any one thing may take to show up on the page.
const WAIT: Duration = Duration::from_secs(30);

/// The processes the test started; killed (with their process groups, so
/// Chromium goes with chromedriver) however the test ends.
struct Processes {
    children: Vec<(&'static str, Child)>,
}

impl Processes {
    fn new() -> Self {
        Processes {
            children: Vec::new(),
        }
    }

    /// Starts `command` in a process group of its own.
    fn spawn(&mut self, name: &'static str, command: &mut Command) -> u32 {
        use std::os::unix::process::CommandExt;
        let child = command
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let pid = child.id();
        self.children.push((name, child));
        pid
    }

    /// Panics with `log`'s tail if `name` has exited.
    fn check_alive(&mut self, name: &str, log: &Path) {
        for (n, child) in &mut self.children {
            if *n == name {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{name} exited ({status}); its log {}:\n{}",
                        log.display(),
                        fs::read_to_string(log).unwrap_or_default()
                    );
                }
            }
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            // The whole group: chromedriver's Chromium and its helpers too.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// `target/` of this build: the `imgd` binary lives in `target/<profile>/`
/// (this also holds with `CARGO_TARGET_DIR` or `--target-dir`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_imgd"))
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn wait_for_port(port: u16, name: &str, procs: &mut Processes, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        procs.check_alive(name, log);
        assert!(
            Instant::now() < deadline,
            "{name} did not listen on port {port} within 60 s; its log {}:\n{}",
            log.display(),
            fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// imgd's API, called directly to check what the page did.
struct Api {
    base: String,
    http: HttpClient<HttpConnector, Full<Bytes>>,
}

impl Api {
    async fn get(&self, path: &str) -> (u16, Value) {
        let request = http::Request::get(format!("{}{path}", self.base))
            .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = self.http.request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, value)
    }

    /// POSTs `body` as JSON; the status and the body as text (NDJSON for
    /// pulls).
    async fn post(&self, path: &str, body: &Value) -> (u16, String) {
        let request = http::Request::post(format!("{}{path}", self.base))
            .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = self.http.request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// The IDs of the images `GET /images` lists with `query`.
    async fn image_ids(&self, query: &str) -> Vec<String> {
        let (status, body) = self.get(&format!("/api/v1/images{query}")).await;
        assert_eq!(status, 200, "GET /api/v1/images{query}: {body}");
        let mut ids: Vec<String> = body["images"]
            .as_array()
            .expect("an images array")
            .iter()
            .map(|i| i["Id"].as_str().expect("an Id").to_string())
            .collect();
        ids.sort();
        ids
    }
}

/// The browser session and where its screenshots go.
struct Page {
    client: Client,
    shots: PathBuf,
}

impl Page {
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.shots.join(format!("{name}.png"));
        fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns a truthy value and returns it; on
    /// timeout saves a screenshot and fails with the page's status line.
    async fn wait_until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let value = self.js(script, args.clone()).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
                Value::String(s) => !s.is_empty(),
                Value::Array(_) | Value::Object(_) => true,
            };
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let name = format!(
                    "failed-{}",
                    what.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
                );
                self.screenshot(&name).await;
                let status = self
                    .js(
                        "return [document.getElementById('status').textContent, \
                         (document.querySelector('dialog[open] .error, dialog[open] [role=status]') || {}).textContent || '']",
                        vec![],
                    )
                    .await;
                panic!("timed out waiting for {what}; page status: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    async fn type_into(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    /// The `data-ref` of every row of the image table, in table order.
    async fn row_refs(&self) -> Vec<String> {
        let refs = self
            .js(
                "return [...document.querySelectorAll('[data-testid=image-row]')].map(r => r.dataset.ref)",
                vec![],
            )
            .await;
        serde_json::from_value(refs).unwrap()
    }

    async fn dialog_open(&self, id: &str) {
        self.wait_until(
            &format!("dialog {id} to open"),
            "return document.getElementById(arguments[0]).open",
            vec![json!(id)],
        )
        .await;
    }

    async fn dialog_closed(&self, id: &str) {
        self.wait_until(
            &format!("dialog {id} to close"),
            "return !document.getElementById(arguments[0]).open",
            vec![json!(id)],
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_page_in_headless_chromium() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "{} missing: install Debian's chromium and chromium-driver \
             (`cargo xtask engine install` does)",
            missing.join(" and ")
        );
        assert!(!ci, "browser test cannot run under CI=true: {message}");
        eprintln!("SKIP web_page_in_headless_chromium: {message}");
        return;
    }

    let out = target_dir().join("browser-screenshots");
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).unwrap();
    let profile = out.join("chromium-profile");
    let mut procs = Processes::new();

    // imgd on the memory engine with the demo host.
    let imgd_port = free_port();
    let imgd_log = out.join("imgd.log");
    let log_file = fs::File::create(&imgd_log).unwrap();
    procs.spawn(
        "imgd",
        Command::new(env!("CARGO_BIN_EXE_imgd"))
            .args(["--backend", "memory", "--demo", "--listen"])
            .arg(format!("127.0.0.1:{imgd_port}"))
            .env("IMGD_TOKEN", TOKEN)
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file),
    );
    wait_for_port(imgd_port, "imgd", &mut procs, &imgd_log);

    let driver_port = free_port();
    let driver_log = out.join("chromedriver.log");
    procs.spawn(
        "chromedriver",
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={driver_port}"))
            .arg(format!("--log-path={}", driver_log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for_port(driver_port, "chromedriver", &mut procs, &driver_log);

    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot start a Chromium session: {e}; chromedriver's log {}",
                driver_log.display()
            )
        });
    let page = Page {
        client,
        shots: out.clone(),
    };
    let api = Api {
        base: format!("http://127.0.0.1:{imgd_port}"),
        http: HttpClient::builder(TokioExecutor::new()).build_http(),
    };

    let result = run(&page, &api, imgd_port).await;
    let _ = page.client.close().await;
    drop(procs);
    let _ = fs::remove_dir_all(&profile);
    result.unwrap();
}

/// Every step; a failed step panics inside.
async fn run(page: &Page, api: &Api, port: u16) -> Result<(), String> {
    // The page asks for the token before anything else.
    page.client
        .goto(&format!("http://127.0.0.1:{port}/"))
        .await
        .map_err(|e| format!("cannot open the page: {e}"))?;
    page.dialog_open("token-dialog").await;
    page.screenshot("01-token").await;
    page.type_into("#token-input", "not-the-token").await;
    page.click("#token-submit").await;
    page.wait_until(
        "the wrong token to be refused",
        "return document.getElementById('token-error').textContent.includes('refused')",
        vec![],
    )
    .await;
    page.type_into("#token-input", TOKEN).await;
    page.click("#token-submit").await;
    page.dialog_closed("token-dialog").await;
    page.wait_until(
        "the demo images and disk usage",
        "return document.body.dataset.loaded === 'true'",
        vec![],
    )
    .await;

    // The token is in sessionStorage only: no cookie, not in the URL.
    let kept = page
        .js(
            "return [sessionStorage.getItem('imgd.token'), document.cookie, location.href]",
            vec![],
        )
        .await;
    assert_eq!(kept[0], json!(TOKEN));
    assert_eq!(kept[1], json!(""));
    assert!(!kept[2].as_str().unwrap().contains(TOKEN));

    // Asked once: a reload of the tab keeps the session and does not ask again.
    page.client
        .refresh()
        .await
        .map_err(|e| format!("cannot reload: {e}"))?;
    page.wait_until(
        "the images after a reload",
        "return document.body.dataset.loaded === 'true' && \
         document.querySelectorAll('[data-testid=image-row]').length > 0",
        vec![],
    )
    .await;
    let asked = page
        .js(
            "return document.getElementById('token-dialog').open",
            vec![],
        )
        .await;
    assert_eq!(
        asked,
        json!(false),
        "the token was asked again after a reload"
    );

    // One row per tag, the dangling image as <none>, docker's formats.
    let refs = page.row_refs().await;
    for expected in [
        "alpine:3.20",
        "alpine:latest",
        "debian:bookworm",
        "nginx:1.27-alpine",
        "postgres:16",
        "registry.example.com/payments/myapp:1.0",
        "registry.example.com/payments/myapp:1.1",
        "registry.example.com/payments/myapp:latest",
    ] {
        assert!(
            refs.iter().any(|r| r == expected),
            "{expected} not in {refs:?}"
        );
    }
    let rows = page
        .js(
            "return [...document.querySelectorAll('[data-testid=image-row]')].map(r => \
             Object.fromEntries([...r.querySelectorAll('td[data-col]')].map(td => [td.dataset.col, td.textContent])))",
            vec![],
        )
        .await;
    let rows = rows.as_array().unwrap();
    let api_ids = api.image_ids("").await;
    let tagged_rows = rows.iter().filter(|r| r["tag"] != "<none>").count();
    assert!(tagged_rows >= 8, "{rows:?}");
    let none = rows
        .iter()
        .filter(|r| r["repository"] == "<none>" && r["tag"] == "<none>")
        .count();
    assert!(none >= 1, "no <none> row for the dangling image: {rows:?}");
    for row in rows {
        let id = row["id"].as_str().unwrap();
        assert_eq!(id.len(), 12, "short ID {id}");
        assert!(
            api_ids
                .iter()
                .any(|full| full.starts_with(&format!("sha256:{id}")))
        );
        let size = row["size"].as_str().unwrap();
        assert!(
            size.ends_with("MB") || size.ends_with("kB"),
            "size {size} in docker's units"
        );
        assert!(row["created"].as_str().unwrap().ends_with(" ago"), "{row}");
    }
    let nginx = rows
        .iter()
        .find(|r| r["repository"] == "nginx")
        .expect("an nginx row");
    assert_eq!(nginx["inuse"], "web (running)");
    let myapp10 = rows
        .iter()
        .find(|r| r["repository"] == "registry.example.com/payments/myapp" && r["tag"] == "1.0")
        .expect("a myapp:1.0 row");
    assert_eq!(myapp10["inuse"], "myapp-migrate (exited)");
    page.screenshot("02-images").await;

    // The text filter and a sortable column.
    page.type_into("#filter-input", "payments").await;
    let filtered = page.row_refs().await;
    assert!(!filtered.is_empty());
    assert!(
        filtered.iter().all(|r| r.contains("payments")),
        "{filtered:?}"
    );
    let filter = page.find("#filter-input").await;
    filter.clear().await.unwrap();
    filter.send_keys(" ").await.unwrap();
    filter.send_keys(&Key::Backspace.to_string()).await.unwrap();
    assert_eq!(page.row_refs().await.len(), refs.len());
    page.click("#images-table th button[data-sort=size]").await;
    let sort = page
        .js(
            "const th = document.querySelector('#images-table button[data-sort=size]').closest('th'); \
             return [th.getAttribute('aria-sort'), \
             [...document.querySelectorAll('[data-testid=image-row] td[data-col=size]')] \
               .map(td => parseInt(td.title, 10))]",
            vec![],
        )
        .await;
    assert_eq!(sort[0], "descending");
    let sizes: Vec<u64> = serde_json::from_value(sort[1].clone()).unwrap();
    assert_eq!(sizes.len(), refs.len());
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    assert!(sizes[0] > sizes[sizes.len() - 1], "{sizes:?}");
    page.click("#images-table th button[data-sort=repository]")
        .await;
    let by_repo = page.row_refs().await;
    assert_eq!(by_repo[0], "alpine:3.20", "{by_repo:?}");
    assert!(
        by_repo.last().unwrap().starts_with("sha256:"),
        "<none> sorts last: {by_repo:?}"
    );

    // Pull an image from the demo registry; every layer's bar finishes.
    assert!(!page.row_refs().await.iter().any(|r| r == "redis:7-alpine"));
    page.click("#pull-open").await;
    page.dialog_open("pull-dialog").await;
    page.type_into("#pull-reference", "redis:7-alpine").await;
    page.click("#pull-submit").await;
    let outcome = page
        .wait_until(
            "the pull to end",
            "const s = document.getElementById('pull-status'); \
             return s.dataset.state === 'done' || s.dataset.state === 'error' ? s.dataset.state + ': ' + s.textContent : ''",
            vec![],
        )
        .await;
    let outcome = outcome.as_str().unwrap().to_string();
    assert!(outcome.starts_with("done: "), "{outcome}");
    let layers = page
        .js(
            "return [...document.querySelectorAll('[data-testid=pull-layer]')].map(li => { \
             const p = li.querySelector('progress'); \
             return {id: li.dataset.layerId, state: li.dataset.state, status: li.dataset.status, \
               updates: Number(li.dataset.updates), value: p.value, max: p.max}; })",
            vec![],
        )
        .await;
    let layers = layers.as_array().unwrap();
    // redis:7-alpine is alpine 3.21 (not local) plus one layer of its own.
    assert_eq!(layers.len(), 2, "{layers:?}");
    for layer in layers {
        assert_eq!(layer["state"], "done", "{layer}");
        assert_eq!(layer["status"], "Pull complete", "{layer}");
        assert_eq!(layer["value"], layer["max"], "{layer}");
        assert_eq!(layer["id"].as_str().unwrap().len(), 12, "{layer}");
        // Drawn from the stream as it came: Pulling fs layer, Downloading...,
        // Verifying Checksum, Download complete, Extracting..., Pull complete.
        assert!(layer["updates"].as_u64().unwrap() >= 6, "{layer}");
    }
    page.screenshot("03-pull-done").await;
    // Keyboard: Escape closes the dialog.
    page.find("#pull-reference")
        .await
        .send_keys(&Key::Escape.to_string())
        .await
        .unwrap();
    page.dialog_closed("pull-dialog").await;
    page.wait_until(
        "the pulled image in the table",
        "return [...document.querySelectorAll('[data-testid=image-row]')].some(r => r.dataset.ref === 'redis:7-alpine')",
        vec![],
    )
    .await;
    let (status, _) = api.get("/api/v1/images/redis%3A7-alpine").await;
    assert_eq!(status, 200, "the pulled image is on the engine");

    // "Update available": the pulled tag matches its registry, so no badge.
    page.wait_until(
        "redis:7-alpine to be checked against its registry",
        "const r = document.querySelector(`[data-testid=image-row][data-ref='redis:7-alpine']`); \
         return r && r.dataset.outdated === 'up_to_date' && !r.querySelector('[data-testid=update-badge]')",
        vec![],
    )
    .await;
    // The demo's alpine:latest is 3.20 here but 3.21 in the registry: once
    // the image is known to come from there (pulled as alpine:3.20), its
    // alpine:latest row gets the badge and its alpine:3.20 row does not.
    let (status, pulled) = api
        .post("/api/v1/images/pull", &json!({"reference": "alpine:3.20"}))
        .await;
    assert_eq!(status, 200, "{pulled}");
    assert!(
        pulled.trim_end().ends_with('}') && pulled.contains("\"type\":\"done\""),
        "{pulled}"
    );
    page.click("#refresh").await;
    let badges = page
        .wait_until(
            "the update-available badge",
            "const row = r => document.querySelector(`[data-testid=image-row][data-ref='${r}']`); \
             const latest = row('alpine:latest'), pinned = row('alpine:3.20'); \
             if (!latest || latest.dataset.outdated !== 'update_available' || !pinned || !pinned.dataset.outdated) return null; \
             const badge = latest.querySelector('[data-testid=update-badge]'); \
             return [badge && badge.textContent, pinned.dataset.outdated, \
               pinned.querySelectorAll('[data-testid=update-badge]').length, \
               document.querySelectorAll('[data-testid=update-badge]').length]",
            vec![],
        )
        .await;
    assert_eq!(badges, json!(["update available", "up_to_date", 0, 1]));
    page.screenshot("03b-update-badge").await;

    // A pull that fails ends with the error, shown in the dialog.
    page.click("#pull-open").await;
    page.dialog_open("pull-dialog").await;
    page.type_into("#pull-reference", "no-such-image:1").await;
    page.click("#pull-submit").await;
    let failed = page
        .wait_until(
            "the failed pull to end",
            "const s = document.getElementById('pull-status'); \
             return s.dataset.state === 'done' || s.dataset.state === 'error' ? s.dataset.state + ': ' + s.textContent : ''",
            vec![],
        )
        .await;
    assert!(
        failed.as_str().unwrap().starts_with("error: Error: "),
        "{failed}"
    );
    page.click("#pull-cancel").await;
    page.dialog_closed("pull-dialog").await;

    // Tag: the new reference shows up as a row of the same image.
    page.click("[data-testid=image-row][data-ref='alpine:3.20'] [data-testid=tag-button]")
        .await;
    page.dialog_open("tag-dialog").await;
    page.type_into("#tag-target", "alpine:mine").await;
    page.click("#tag-submit").await;
    page.dialog_closed("tag-dialog").await;
    let ids = page
        .wait_until(
            "the new tag in the table",
            "const row = r => document.querySelector(`[data-testid=image-row][data-ref='${r}']`); \
             return document.body.dataset.loaded === 'true' && row('alpine:mine') \
               ? [row('alpine:mine').dataset.id, row('alpine:3.20').dataset.id] : null",
            vec![],
        )
        .await;
    assert_eq!(ids[0], ids[1], "{ids}");
    let (status, tagged) = api.get("/api/v1/images/alpine%3Amine").await;
    assert_eq!(status, 200, "{tagged}");
    assert_eq!(tagged["Id"], ids[0]);

    // Remove an image through the confirmation dialog.
    let (status, debian) = api.get("/api/v1/images/debian%3Abookworm").await;
    assert_eq!(status, 200, "{debian}");
    page.click("[data-testid=image-row][data-ref='debian:bookworm'] [data-testid=remove-button]")
        .await;
    page.dialog_open("remove-dialog").await;
    let name = page.find("#remove-name").await.text().await.unwrap();
    assert_eq!(name, "debian:bookworm");
    page.screenshot("04-remove-confirm").await;
    page.click("#remove-confirm").await;
    page.dialog_closed("remove-dialog").await;
    page.wait_until(
        "debian:bookworm to leave the table",
        "return document.body.dataset.loaded === 'true' && \
         ![...document.querySelectorAll('[data-testid=image-row]')].some(r => r.dataset.ref === 'debian:bookworm')",
        vec![],
    )
    .await;
    let said = page.find("#status").await.text().await.unwrap();
    assert!(said.contains("Untagged: debian:bookworm"), "{said}");
    assert!(said.contains("Deleted: sha256:"), "{said}");
    let (status, body) = api.get("/api/v1/images/debian%3Abookworm").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = api
        .get(&format!(
            "/api/v1/images/{}",
            debian["Id"].as_str().unwrap().replace(':', "%3A")
        ))
        .await;
    assert_eq!(
        status, 404,
        "the image is deleted, not only untagged: {body}"
    );

    // An image a stopped container uses needs "force": refused first, with
    // the reason in the dialog, then removed with the box checked.
    let myapp = "registry.example.com/payments/myapp:1.0";
    page.click(&format!(
        "[data-testid=image-row][data-ref='{myapp}'] [data-testid=remove-button]"
    ))
    .await;
    page.dialog_open("remove-dialog").await;
    page.click("#remove-confirm").await;
    let refusal = page
        .wait_until(
            "the refusal without force",
            "return document.getElementById('remove-error').textContent",
            vec![],
        )
        .await;
    assert!(refusal.as_str().unwrap().contains("Force"), "{refusal}");
    page.screenshot("05-remove-refused").await;
    let (status, body) = api
        .get("/api/v1/images/registry.example.com%2Fpayments%2Fmyapp%3A1.0")
        .await;
    assert_eq!(status, 200, "refused, so still there: {body}");
    page.click("#remove-force").await;
    page.click("#remove-confirm").await;
    page.dialog_closed("remove-dialog").await;
    page.wait_until(
        "the forced removal",
        "return document.body.dataset.loaded === 'true' && \
         !document.querySelector(`[data-testid=image-row][data-ref='${arguments[0]}']`)",
        vec![json!(myapp)],
    )
    .await;
    let (status, body) = api
        .get("/api/v1/images/registry.example.com%2Fpayments%2Fmyapp%3A1.0")
        .await;
    assert_eq!(status, 404, "{body}");

    // Prune: the preview shows the plan and removes nothing.
    let before = api.image_ids("?all=true").await;
    let dangling = api.image_ids("?filter=dangling%3Dtrue").await;
    assert!(!dangling.is_empty(), "the demo host has a dangling image");
    page.click("#prune-open").await;
    page.dialog_open("prune-dialog").await;
    assert!(
        !page
            .find("#prune-confirm")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
    page.click("#prune-preview").await;
    page.wait_until(
        "the prune plan",
        "return !document.getElementById('prune-plan').hidden",
        vec![],
    )
    .await;
    let plan = page
        .js(
            "return [document.getElementById('prune-space').textContent, \
             [...document.querySelectorAll('[data-testid=prune-action][data-kind=image]')].map(li => li.dataset.id)]",
            vec![],
        )
        .await;
    let space = plan[0].as_str().unwrap();
    let mut planned: Vec<String> = serde_json::from_value(plan[1].clone()).unwrap();
    planned.sort();
    // Without "all", prune removes exactly the dangling images.
    assert_eq!(planned, dangling, "{plan}");
    let expected = format!(
        "Would delete {} image{} and free ",
        dangling.len(),
        if dangling.len() == 1 { "" } else { "s" }
    );
    assert!(space.starts_with(&expected), "{space}");
    assert!(
        page.find("#prune-confirm")
            .await
            .is_enabled()
            .await
            .unwrap()
    );
    page.screenshot("06-prune-plan").await;
    page.click("#prune-cancel").await;
    page.dialog_closed("prune-dialog").await;
    assert_eq!(
        api.image_ids("?all=true").await,
        before,
        "a prune preview removed something"
    );

    // The disk-usage chart: one bar per image plus the total, shared and unique parts.
    let chart = page
        .js(
            "const bars = [...document.querySelectorAll('#usage-chart [data-testid=usage-bar]')]; \
             const w = (g, part) => Number(g.querySelector(`[data-testid=usage-${part}]`).getAttribute('width')); \
             document.getElementById('usage-heading').scrollIntoView(); \
             return {bars: bars.length, images: bars.filter(g => g.dataset.id).length, \
               shared: bars.filter(g => w(g, 'shared') > 0).length, \
               unique: bars.filter(g => w(g, 'unique') > 0).length, \
               summary: document.getElementById('usage-summary').textContent}",
            vec![],
        )
        .await;
    let images_now = api.image_ids("?all=true").await.len() as u64;
    let (status, usage) = api.get("/api/v1/disk-usage").await;
    assert_eq!(status, 200, "{usage}");
    let usage_images = usage["images"].as_array().unwrap().len() as u64;
    assert!(usage_images > 0 && usage_images <= images_now);
    assert_eq!(chart["images"], json!(usage_images), "{chart}");
    assert_eq!(chart["bars"], json!(usage_images + 1), "{chart}");
    assert!(chart["shared"].as_u64().unwrap() >= 3, "{chart}");
    assert!(chart["unique"].as_u64().unwrap() >= 3, "{chart}");
    assert!(
        chart["summary"].as_str().unwrap().contains("Reclaimable"),
        "{chart}"
    );
    page.screenshot("07-disk-usage").await;

    cleanup(page, api).await;
    Ok(())
}

/// The cleanup view: one rule, the plan (nothing removed), then confirmed
/// (removed). By now the host has alpine:3.20, alpine:latest and
/// alpine:mine on one image (pulled, created 2024), and redis:7-alpine
/// (pulled, created January 2025, unused).
async fn cleanup(page: &Page, api: &Api) {
    let redis = api.get("/api/v1/images/redis%3A7-alpine").await.1["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = api.image_ids("?all=true").await;
    page.click("#cleanup-open").await;
    let focused = page.js("return document.activeElement.id", vec![]).await;
    assert_eq!(focused, "cleanup-heading");
    page.type_into("#cleanup-repositories", "redis, alpine")
        .await;
    page.type_into("#cleanup-keep", "latest").await;
    page.type_into("#cleanup-older-than", "24h").await;
    // Keyboard: Enter in a field asks for the plan.
    page.find("#cleanup-older-than")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    let summary = page
        .wait_until(
            "the cleanup plan",
            "const s = document.getElementById('cleanup-summary').textContent; \
             return document.getElementById('cleanup-confirm').disabled ? '' : s",
            vec![],
        )
        .await;
    let summary = summary.as_str().unwrap();
    assert!(
        summary.starts_with("Would untag 3 tags and delete 1 image, freeing "),
        "{summary}"
    );
    let rows = page
        .js(
            "return [...document.querySelectorAll('[data-testid=cleanup-row]')].map(r => \
             [...r.querySelectorAll('td')].map(td => td.textContent))",
            vec![],
        )
        .await;
    let rows: Vec<Vec<String>> = serde_json::from_value(rows).unwrap();
    let has = |repository: &str, tag: &str, action: &str| {
        rows.iter()
            .any(|r| r[0] == repository && r[1] == tag && r[3] == action)
    };
    for (repository, tag) in [
        ("redis", "7-alpine"),
        ("alpine", "3.20"),
        ("alpine", "mine"),
    ] {
        assert!(has(repository, tag, "untag"), "{repository}:{tag} {rows:?}");
    }
    assert!(has("redis", "—", "delete"), "{rows:?}");
    let latest = rows
        .iter()
        .find(|r| r[0] == "alpine" && r[1] == "latest")
        .expect("alpine:latest stays");
    assert_eq!(latest[3], "keep");
    assert_eq!(latest[4], "matches keep glob latest");
    // Only the rule's repositories: in-use images elsewhere are not listed.
    assert!(
        !rows.iter().any(|r| r[0] == "nginx" || r[0] == "postgres"),
        "{rows:?}"
    );
    let deleted = rows.iter().find(|r| r[3] == "delete").unwrap();
    assert!(
        redis.starts_with(&format!("sha256:{}", deleted[2])),
        "{deleted:?}"
    );
    // Planning removed nothing.
    assert_eq!(
        api.image_ids("?all=true").await,
        before,
        "planning removed something"
    );
    page.screenshot("08-cleanup-plan").await;

    page.click("#cleanup-confirm").await;
    let done = page
        .wait_until(
            "the cleanup report",
            "const s = document.getElementById('cleanup-summary').textContent; \
             return s.startsWith('Cleaned up') && document.body.dataset.loaded === 'true' ? s : ''",
            vec![],
        )
        .await;
    assert!(
        done.as_str()
            .unwrap()
            .starts_with("Cleaned up: 4 done, 0 refused, 0 skipped"),
        "{done}"
    );
    let outcomes = page
        .js(
            "return [...document.querySelectorAll('[data-testid=cleanup-outcome]')].map(li => li.dataset.status)",
            vec![],
        )
        .await;
    assert_eq!(outcomes.as_array().unwrap().len(), 4, "{outcomes}");
    for (path, status) in [
        ("/api/v1/images/redis%3A7-alpine", 404),
        ("/api/v1/images/alpine%3A3.20", 404),
        ("/api/v1/images/alpine%3Amine", 404),
        ("/api/v1/images/alpine%3Alatest", 200),
    ] {
        assert_eq!(api.get(path).await.0, status, "{path}");
    }
    assert_eq!(
        api.get(&format!("/api/v1/images/{}", redis.replace(':', "%3A")))
            .await
            .0,
        404,
        "the redis image is deleted"
    );
    let refs = page.row_refs().await;
    assert!(
        !refs
            .iter()
            .any(|r| r == "redis:7-alpine" || r == "alpine:mine"),
        "{refs:?}"
    );
    page.screenshot("09-cleanup-done").await;
}
