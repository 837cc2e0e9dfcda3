//! Writes the fixtures of `cargo xtask bench cli`: one `docker save` tarball
//! with `COUNT` small, distinct images, ready for `docker load -i`.
//!
//! Image `i` (from 0) has one layer holding one file with unique contents,
//! its own creation time (2024-01-01 plus `i` minutes, so that the list has
//! a total order), the labels `imgctl.bench` (the fixture version, which the
//! xtask filters on to count what is loaded) and `imgctl.bench.index`, and
//! the tag `imgctl-bench/app-<i % 50>:v<i>`; every tenth image has a second
//! tag `imgctl-bench/extra:v<i>`, and every hundredth a third,
//! `imgctl-bench/extra:latest-<i>`. The output is deterministic: the same
//! count always gives the same bytes, hence the same image IDs.
//!
//! Run it with `cargo run --release -p image-core --example bench_fixtures
//! -- OUT COUNT`.

use std::process::ExitCode;

use chrono::{DateTime, TimeDelta, Utc};
use image_core::archive::{ArchiveImage, FixtureImage, write_archive};

/// The value of the `imgctl.bench` label; change it when the fixtures change
/// so that `cargo xtask bench` reloads them.
const FIXTURE_VERSION: &str = "1";

/// 2024-01-01T00:00:00Z.
const BASE_TIME: i64 = 1_704_067_200;

fn image(index: usize) -> Result<ArchiveImage, Box<dyn std::error::Error>> {
    let minutes = i64::try_from(index)?;
    let created: DateTime<Utc> = DateTime::from_timestamp(BASE_TIME, 0)
        .ok_or("bad base time")?
        .checked_add_signed(TimeDelta::minutes(minutes))
        .ok_or("creation time out of range")?;
    let contents = format!("imgctl bench fixture {index}\n");
    let mut fixture = FixtureImage::new(&format!("bench-{index}"))
        .layer_with_file(&format!("bench/{index}.txt"), contents.as_bytes())
        .label("imgctl.bench", FIXTURE_VERSION)
        .label("imgctl.bench.index", &index.to_string())
        .created(created)
        .tag(&format!("imgctl-bench/app-{}:v{index}", index % 50));
    if index % 10 == 0 {
        fixture = fixture.tag(&format!("imgctl-bench/extra:v{index}"));
    }
    if index % 100 == 0 {
        fixture = fixture.tag(&format!("imgctl-bench/extra:latest-{index}"));
    }
    Ok(fixture.build()?)
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [out, count] = args else {
        return Err("usage: bench_fixtures OUT COUNT".into());
    };
    let count: usize = count.parse().map_err(|e| format!("COUNT {count:?}: {e}"))?;
    let images = (0..count).map(image).collect::<Result<Vec<_>, _>>()?;
    let archive = write_archive(&images)?;
    std::fs::write(out, &archive).map_err(|e| format!("cannot write {out}: {e}"))?;
    eprintln!(
        "{count} images, {} bytes, label imgctl.bench={FIXTURE_VERSION}",
        archive.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench_fixtures: {error}");
            ExitCode::FAILURE
        }
    }
}
