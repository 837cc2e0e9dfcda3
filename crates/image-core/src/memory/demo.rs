//! Demo data for [`MemoryImageService`]: a small but realistic host, so a
//! user can try the CLI or the web page without Docker.
//!
//! It holds two base images (`alpine`, `debian`) whose layers other images
//! share, several repositories and tags, an intermediate image that only
//! `-a` shows, a dangling image, an image a running container uses and one a
//! stopped container uses, and a registry with newer tags to pull.

use chrono::{DateTime, TimeZone, Utc};

use super::MemoryImageService;
use crate::archive::{ArchiveImage, FixtureImage};
use crate::error::Result;
use crate::model::ContainerState;

fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Deterministic filler of `len` bytes, so layers have realistic sizes.
fn filler(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_add((i % 251) as u8))
        .collect()
}

fn alpine(version: &str, created: DateTime<Utc>, size: usize, seed: u8) -> Result<ArchiveImage> {
    FixtureImage::new(&format!("alpine-{version}"))
        .layer_with_file("bin/busybox", &filler(seed, size))
        .env("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .cmd(["/bin/sh"])
        .created(created)
        .build()
}

/// Seeds `service` with the demo host.
pub(super) fn seed(service: &MemoryImageService) -> Result<()> {
    let alpine_320 = alpine("3.20", at(2024, 5, 22), 3_400_000, 1)?;
    let alpine_321 = alpine("3.21", at(2024, 12, 5), 3_500_000, 2)?;
    let debian = FixtureImage::new("debian-bookworm")
        .layer_with_file("usr/lib/os-release", &filler(3, 2_900_000))
        .cmd(["bash"])
        .created(at(2024, 7, 1))
        .build()?;

    let nginx = FixtureImage::new("nginx")
        .on_top_of(&alpine_320)
        .layer_with_file("usr/sbin/nginx", &filler(4, 1_800_000))
        .layer_with_file(
            "etc/nginx/nginx.conf",
            b"events {}\nhttp { server { listen 80; } }\n",
        )
        .expose("80/tcp")
        .stop_signal("SIGQUIT")
        .cmd(["nginx", "-g", "daemon off;"])
        .label("org.opencontainers.image.title", "nginx")
        .created(at(2024, 8, 14))
        .build()?;
    let postgres = FixtureImage::new("postgres")
        .on_top_of(&debian)
        .layer_with_file("usr/lib/postgresql/16/bin/postgres", &filler(5, 2_000_000))
        .env("PGDATA=/var/lib/postgresql/data")
        .volume("/var/lib/postgresql/data")
        .expose("5432/tcp")
        .cmd(["postgres"])
        .created(at(2024, 7, 10))
        .build()?;
    let deps = FixtureImage::new("myapp-deps")
        .on_top_of(&alpine_320)
        .layer_with_file("app/node_modules/.bundle", &filler(6, 700_000))
        .working_dir("/app")
        .created(at(2024, 9, 30))
        .build()?;
    let myapp_11 = FixtureImage::new("myapp-1.1")
        .on_top_of(&deps)
        .layer_with_file("app/server", &filler(7, 950_000))
        .label("org.opencontainers.image.version", "1.1")
        .label("team", "payments")
        .cmd(["/app/server"])
        .created(at(2024, 10, 1))
        .build()?;
    let myapp_10 = FixtureImage::new("myapp-1.0")
        .on_top_of(&alpine_320)
        .layer_with_file("app/server", &filler(8, 900_000))
        .label("org.opencontainers.image.version", "1.0")
        .label("team", "payments")
        .cmd(["/app/server"])
        .created(at(2024, 9, 1))
        .build()?;
    let old_build = FixtureImage::new("myapp-old-build")
        .on_top_of(&alpine_320)
        .layer_with_file("app/server", &filler(9, 880_000))
        .label("team", "payments")
        .cmd(["/app/server"])
        .created(at(2024, 8, 20))
        .build()?;

    let tagged = |image: &ArchiveImage, tags: &[&str]| ArchiveImage {
        repo_tags: tags.iter().map(|t| t.to_string()).collect(),
        ..image.clone()
    };
    service.add_image(&tagged(&alpine_320, &["alpine:3.20", "alpine:latest"]))?;
    service.add_image(&tagged(&debian, &["debian:bookworm"]))?;
    service.add_image(&tagged(&nginx, &["nginx:1.27-alpine"]))?;
    service.add_image(&tagged(&postgres, &["postgres:16"]))?;
    service.add_image(&tagged(
        &myapp_10,
        &["registry.example.com/payments/myapp:1.0"],
    ))?;
    let deps_id = service.add_image(&deps)?;
    service.add_child_image(
        &tagged(
            &myapp_11,
            &[
                "registry.example.com/payments/myapp:1.1",
                "registry.example.com/payments/myapp:latest",
            ],
        ),
        &deps_id,
    )?;
    service.add_image(&old_build)?;

    service.add_container("nginx:1.27-alpine", "web", ContainerState::Running)?;
    service.add_container("postgres:16", "db", ContainerState::Running)?;
    service.add_container(
        "registry.example.com/payments/myapp:1.0",
        "myapp-migrate",
        ContainerState::Exited,
    )?;

    service.registry_put("alpine:3.20", &alpine_320)?;
    service.registry_put("alpine:3.21", &alpine_321)?;
    service.registry_put("alpine:latest", &alpine_321)?;
    service.registry_put("nginx:1.27-alpine", &nginx)?;
    service.registry_put("debian:bookworm", &debian)?;
    service.registry_put("postgres:16", &postgres)?;
    let redis = FixtureImage::new("redis")
        .on_top_of(&alpine_321)
        .layer_with_file("usr/local/bin/redis-server", &filler(10, 1_200_000))
        .expose("6379/tcp")
        .cmd(["redis-server"])
        .created(at(2025, 1, 6))
        .build()?;
    service.registry_put("redis:7-alpine", &redis)?;
    service.registry_put("redis:latest", &redis)?;
    service.registry_put("registry.example.com/payments/myapp:1.1", &myapp_11)?;
    Ok(())
}
