//! The dashboard in a real browser: Debian's headless chromium, driven through
//! chromium-driver (WebDriver) by fantoccini. It loads the page of a running stack, checks
//! that members, machines and units are shown, starts a unit with the page's button and
//! waits until the page shows it running, reads a failing unit's failure and restart
//! counts, scales a template from the page until both instances run; screenshots are kept
//! under
//! `target/artefacts/dashboard/`.

use fantoccini::{ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the page may take to show what the test waits for.
const PAGE_DEADLINE: Duration = Duration::from_secs(60);

/// chromium-driver, killed by PID on drop.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the screenshots are kept after the test.
fn artefacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("artefacts/dashboard")
}

/// The text of the first element at `xpath`, or empty when there is none.
async fn text_at(client: &fantoccini::Client, xpath: &str) -> String {
    match client.find(Locator::XPath(xpath)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Polls `xpath`'s text until `good` holds, failing with the page's text after the deadline.
async fn wait_text(client: &fantoccini::Client, xpath: &str, good: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + PAGE_DEADLINE;
    loop {
        let text = text_at(client, xpath).await;
        if good(&text) {
            return;
        }
        if Instant::now() >= deadline {
            let page = text_at(client, "//body").await;
            panic!("{xpath} never matched (last {text:?}); the page says:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the element at `xpath`, finding it again when the page replaced it between the
/// find and the click (a stale element), until the deadline.
async fn click(client: &fantoccini::Client, xpath: &str) {
    let deadline = Instant::now() + PAGE_DEADLINE;
    loop {
        let clicked = match client.find(Locator::XPath(xpath)).await {
            Ok(element) => element.click().await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match clicked {
            Ok(()) => return,
            Err(error) if Instant::now() >= deadline => panic!("cannot click {xpath}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The page at `url` shows the stack; `unit` (submitted, not started) is started from it.
pub fn the_page_shows_the_stack_and_starts_a_unit(dir: &Path, url: &str, unit: &str) {
    let port = testkit::free_port();
    let log = std::fs::File::create(dir.join("chromedriver.log")).unwrap();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let _driver = Driver(child);
    let driver_url = format!("http://127.0.0.1:{port}");
    testkit::wait_for(PAGE_DEADLINE, "chromium-driver", || {
        ureq::get(&format!("{driver_url}/status"))
            .call()
            .ok()
            .map(|_| ())
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(drive(dir, &driver_url, url, unit));
}

async fn drive(dir: &Path, driver_url: &str, url: &str, unit: &str) {
    let profile = dir.join("chromium");
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", format!("--user-data-dir={}", profile.display())],
        }
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("an object literal")
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver_url)
        .await
        .expect("a chromium session");
    client.goto(url).await.unwrap();
    wait_text(&client, "//table[@id='members']/tbody", |t| {
        t.contains("leader")
    })
    .await;
    // The machine, with its CPU and memory allocation against its detected capacity.
    wait_text(&client, "//div[@id='machines']", |t| {
        t.contains("127.0.0.1") && t.contains("CPU 0 cores of") && t.contains("GiB allocated")
    })
    .await;
    let row = format!("//table[@id='units']/tbody/tr[td[1][text()='{unit}']]");
    wait_text(&client, &format!("{row}/td[2]"), |t| t == "inactive").await;
    std::fs::create_dir_all(artefacts()).unwrap();
    let shot = client.screenshot().await.unwrap();
    std::fs::write(artefacts().join("1-loaded.png"), shot).unwrap();
    click(&client, &format!("{row}//button[@data-action='start']")).await;
    wait_text(&client, &format!("{row}/td[3]"), |t| {
        t == "active (running)"
    })
    .await;
    let shot = client.screenshot().await.unwrap();
    std::fs::write(artefacts().join("2-started.png"), shot).unwrap();
    failures_and_restarts_are_counted(&client).await;
    // Every daemon's request rate is plotted; Keel's is never 0 (the dashboard reads it).
    wait_text(&client, "//div[@id='request-legend']", |t| {
        t.contains("fleet ")
            && t.contains("dns ")
            && t.contains("keel ")
            && !t.contains("keel 0.0/s")
    })
    .await;
    a_template_is_scaled_from_the_page(&client).await;
    let shot = client.screenshot().await.unwrap();
    std::fs::write(artefacts().join("3-scaled.png"), shot).unwrap();
    client.close().await.unwrap();
}

/// `crash.service` (started by the test) fails and is restarted by systemd, then by
/// fleet's agent, over and over: its row counts failures and restarts, and the plot's
/// legend counts them too (other units never fail).
async fn failures_and_restarts_are_counted(client: &fantoccini::Client) {
    let row = "//table[@id='units']/tbody/tr[td[1][text()='crash.service']]";
    let some = |t: &str| t.parse::<u64>().is_ok_and(|n| n >= 1);
    wait_text(client, &format!("{row}/td[6]"), some).await;
    wait_text(client, &format!("{row}/td[7]"), some).await;
    let hello = "//table[@id='units']/tbody/tr[td[1][text()='hello.service']]";
    wait_text(client, &format!("{hello}/td[6]"), |t| t == "0").await;
    wait_text(client, "//div[@id='failure-legend']", |t| {
        let total = |name: &str| {
            t.split(name)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        total("failures ").is_some_and(|n| n >= 1) && total("restarts ").is_some_and(|n| n >= 1)
    })
    .await;
}

/// `web@.service` (submitted, never scaled) is scaled to two from the page; both instances
/// run.
async fn a_template_is_scaled_from_the_page(client: &fantoccini::Client) {
    let row = "//table[@id='templates']/tbody/tr[td[1][text()='web@.service']]";
    wait_text(client, &format!("{row}/td[2]"), |t| t == "not scaled").await;
    let input = client
        .find(Locator::XPath(&format!("{row}//input")))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys("2").await.unwrap();
    click(client, &format!("{row}//button[@data-action='scale']")).await;
    wait_text(client, &format!("{row}/td[2]"), |t| t == "2").await;
    wait_text(client, &format!("{row}/td[3]"), |t| t == "2 of 2").await;
}
