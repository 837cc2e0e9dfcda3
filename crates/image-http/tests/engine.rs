//! imgd end to end on the real private engines (API 1.41 and 1.45): the
//! router served on an ephemeral port over `DockerImageService`, driven over
//! HTTP (behind image-core's list cache, as `imgd` serves it): load, list, inspect, tag, push to and pull from the local open
//! registry as NDJSON, outdated, remove, prune dry run, save, a cleanup
//! planned and carried out. Gated on the harness's
//! environment like image-docker's tests: a SKIP line when unset, a panic
//! under `CI=true`. Image names are unique to this test (`imgd-e2e-*`), so
//! other suites running on the same engines are not disturbed.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use image_core::CachedImageService;
use image_core::archive::{FixtureImage, write_archive};
use image_docker::{ConnectOptions, DockerImageService};
use serde_json::{Value, json};
use support::{Http, Served};

/// `a/b:c` as one percent-encoded path segment.
fn segment(name: &str) -> String {
    name.replace('%', "%25")
        .replace('/', "%2F")
        .replace(':', "%3A")
        .replace('@', "%40")
}

async fn connect(host: &str) -> DockerImageService {
    let options =
        ConnectOptions::from_values(Some(host.to_string()), false, None, None, None).unwrap();
    DockerImageService::connect(ConnectOptions {
        config_dir: None,
        ..options
    })
    .await
    .unwrap_or_else(|e| panic!("engine at {host}: {e}"))
}

fn last_line(answer: &support::Answer) -> Value {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.content_type, "application/x-ndjson");
    answer.lines().pop().unwrap()
}

async fn round_trip(engine: &str) {
    let host_key = format!("IMGCTL_ENGINE_{engine}_HOST");
    let Some(env) = support::require(
        &format!("imgd end to end on engine {engine}"),
        &[host_key.as_str(), "IMGCTL_REGISTRY_OPEN"],
    ) else {
        return;
    };
    let registry = &env["IMGCTL_REGISTRY_OPEN"];
    // As main.rs serves it: behind image-core's list cache.
    let service = CachedImageService::new(connect(&env[&host_key]).await);
    let served = Served::start(Arc::new(service), Served::settings(), None);
    let http = Http::plain(served.addr);
    let lower = engine.to_lowercase();
    let repo = format!("{registry}/imgd-e2e/app-{lower}-{}", std::process::id());
    let v1 = format!("{repo}:v1");
    let v2 = format!("{repo}:v2");

    // Without the token: 401 over the socket too.
    let refused = support::read(
        http.start("GET", "/api/v1/images", None, Vec::new(), false)
            .await,
    )
    .await;
    assert_eq!(
        (refused.status, refused.kind()),
        (401, "unauthorized".into())
    );

    // Load a fixture image (the upload is streamed to the engine).
    let image = FixtureImage::new(&format!("imgd-e2e-{lower}"))
        .layer_with_file("payload.bin", &vec![5u8; 200_000])
        .layer_with_file("hello.txt", format!("imgd e2e {engine}\n").as_bytes())
        .label("imgd.e2e", &lower)
        .tag(&v1)
        .build()
        .unwrap();
    let archive = write_archive(std::slice::from_ref(&image)).unwrap();
    let loaded = http
        .call(
            "POST",
            "/api/v1/images/load",
            Some("application/x-tar"),
            archive,
        )
        .await;
    assert_eq!(
        loaded.status,
        200,
        "{}",
        String::from_utf8_lossy(&loaded.body)
    );

    // List with a filter, inspect by the encoded reference.
    let listed = http
        .get(&format!(
            "/api/v1/images?filter=label%3Dimgd.e2e%3D{lower}&filter=reference%3D{}",
            segment(&repo)
        ))
        .await
        .json();
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["images"][0]["RepoTags"], json!([v1]));
    let id = listed["images"][0]["Id"].as_str().unwrap().to_string();
    let details = http
        .get(&format!("/api/v1/images/{}", segment(&v1)))
        .await
        .json();
    assert_eq!(details["Id"], id.as_str());
    assert_eq!(details["Config"]["Labels"]["imgd.e2e"], lower.as_str());
    let history = http
        .get(&format!("/api/v1/images/{}/history", segment(&v1)))
        .await;
    assert_eq!(history.status, 200);
    let missing = http.get("/api/v1/images/imgd-e2e-missing%3Anone").await;
    assert_eq!((missing.status, missing.kind()), (404, "not_found".into()));

    // Tag, push the new tag to the open registry as NDJSON.
    let tagged = http
        .json(
            "POST",
            &format!("/api/v1/images/{}/tag", segment(&v1)),
            &json!({"target": v2}),
        )
        .await;
    assert_eq!(
        tagged.status,
        201,
        "{}",
        String::from_utf8_lossy(&tagged.body)
    );
    let listed_path = format!("/api/v1/images?filter=reference%3D{}", segment(&repo));
    let listed = http.get(&listed_path).await.json();
    let mut tags: Vec<String> =
        serde_json::from_value(listed["images"][0]["RepoTags"].clone()).unwrap();
    tags.sort();
    assert_eq!(
        tags,
        [v1.clone(), v2.clone()],
        "the list shows the new tag at once"
    );
    let pushed = http
        .json("POST", "/api/v1/images/push", &json!({"reference": v2}))
        .await;
    let done = last_line(&pushed);
    assert_eq!(done["type"], "done", "{:?}", pushed.lines());
    assert!(pushed.lines().iter().any(|l| l["type"] == "layer"));

    // Remove both tags (the image goes with the last one).
    let removed = http
        .call(
            "DELETE",
            &format!("/api/v1/images/{}", segment(&v2)),
            None,
            Vec::new(),
        )
        .await
        .json();
    assert_eq!(removed["actions"], json!([{"untagged": v2}]));
    let removed = http
        .call(
            "DELETE",
            &format!("/api/v1/images/{}?force=true", segment(&v1)),
            None,
            Vec::new(),
        )
        .await
        .json();
    assert!(
        removed["actions"]
            .as_array()
            .unwrap()
            .contains(&json!({"deleted": id})),
        "{removed}"
    );

    assert_eq!(http.get(&listed_path).await.json()["total"], 0);

    // Pull it back from the registry as NDJSON.
    let pulled = http
        .json("POST", "/api/v1/images/pull", &json!({"reference": v2}))
        .await;
    let done = last_line(&pulled);
    assert_eq!(done["type"], "done", "{:?}", pulled.lines());
    assert_eq!(done["image_id"], id.as_str());
    let lines = pulled.lines();
    assert!(lines.iter().any(|l| l["type"] == "layer"), "{lines:?}");
    assert_eq!(
        http.get(&format!("/api/v1/images/{}", segment(&v2)))
            .await
            .status,
        200
    );

    // Just pulled: the tag is what the registry serves.
    let fresh = http
        .get(&format!("/api/v1/images/{}/outdated", segment(&v2)))
        .await;
    assert_eq!(
        fresh.status,
        200,
        "{}",
        String::from_utf8_lossy(&fresh.body)
    );
    let fresh = fresh.json();
    assert_eq!(fresh["status"], "up_to_date", "{fresh}");
    assert_eq!(fresh["image"], v2.as_str());
    assert_eq!(fresh["local_digest"], fresh["registry_digest"], "{fresh}");

    // A tag the registry does not have: an error, as a status or the
    // stream's last line, never success.
    let absent = http
        .json(
            "POST",
            "/api/v1/images/pull",
            &json!({"reference": format!("{repo}:absent")}),
        )
        .await;
    let kind = if absent.status == 200 {
        let last = last_line(&absent);
        assert_eq!(last["type"], "error", "{last}");
        last["error"]["kind"].as_str().unwrap().to_string()
    } else {
        absent.kind()
    };
    assert!(["not_found", "registry"].contains(&kind.as_str()), "{kind}");

    // Save streams a tar.
    let saved = http
        .get(&format!("/api/v1/images/save?image={}", segment(&v2)))
        .await;
    assert_eq!(
        (saved.status, saved.content_type.as_str()),
        (200, "application/x-tar")
    );
    assert!(saved.body.len() > 200_000);

    // A prune dry run deletes nothing (or says the engine cannot tell).
    let before = http.get("/api/v1/images?all=true").await.json()["total"].clone();
    let plan = http
        .json("POST", "/api/v1/images/prune", &json!({"all": true}))
        .await;
    match plan.status {
        200 => assert_eq!(plan.json()["dry_run"], true),
        501 => assert_eq!(plan.kind(), "not_supported"),
        other => panic!(
            "prune dry run: {other} {}",
            String::from_utf8_lossy(&plan.body)
        ),
    }
    let after = http.get("/api/v1/images?all=true").await.json()["total"].clone();
    assert_eq!(before, after);

    // A retention policy over this test's repository: the dry run plans the
    // untag and the delete and changes nothing; carried out, both are done.
    let policy = json!({"rules": [{"repository": [repo], "older_than": "1h"}]});
    let dry = http
        .json("POST", "/api/v1/cleanup", &json!({"policy": policy}))
        .await;
    assert_eq!(dry.status, 200, "{}", String::from_utf8_lossy(&dry.body));
    let dry = dry.json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        dry["plan"]["actions"],
        json!([
            {"action": "untag", "reference": v2, "image_id": id,
             "reason": {"kind": "expired", "rule": 0, "rank": 1, "older_than": "1h"}},
            {"action": "delete", "image_id": id, "reason": {"kind": "all_tags_removed"}},
        ]),
        "{dry}"
    );
    assert_eq!(
        http.get(&format!("/api/v1/images/{}", segment(&v2)))
            .await
            .status,
        200,
        "a dry run removed the image"
    );
    let real = http
        .json(
            "POST",
            "/api/v1/cleanup",
            &json!({"policy": policy, "dry_run": false}),
        )
        .await
        .json();
    let outcomes = real["report"]["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 2, "{real}");
    for outcome in outcomes {
        let status = outcome["outcome"]["status"].as_str().unwrap();
        assert!(["done", "already_done"].contains(&status), "{real}");
    }
    for name in [v2.as_str(), id.as_str()] {
        assert_eq!(
            http.get(&format!("/api/v1/images/{}", segment(name)))
                .await
                .status,
            404,
            "{name} is gone"
        );
    }

    // Clean up, then look at what the metrics saw.
    let _ = http
        .call(
            "DELETE",
            &format!("/api/v1/images/{}?force=true", segment(&v2)),
            None,
            Vec::new(),
        )
        .await;
    let metrics = String::from_utf8_lossy(&http.get("/metrics").await.body).into_owned();
    assert!(
        metrics.contains(r#"route="/api/v1/images/pull",status="200"}"#),
        "{metrics}"
    );
    served.stop().await;
}

#[tokio::test]
async fn round_trip_on_engine_a() {
    round_trip("A").await;
}

#[tokio::test]
async fn round_trip_on_engine_b() {
    round_trip("B").await;
}
