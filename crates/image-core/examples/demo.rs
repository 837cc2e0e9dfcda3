//! Tries imgctl's core without Docker: seeds the in-memory engine with the
//! demo host, lists its images the way `docker images` does, pulls an image
//! from the built-in registry with live progress, and prints disk usage.
//!
//! Run it with `cargo run -p image-core --example demo`.

use futures::StreamExt;
use image_core::{
    ImageService, ListOptions, MemoryImageService, ProgressEvent, PullOptions, short_id,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let service = MemoryImageService::demo()?;
    print_images(&service).await?;

    println!("\n$ pull redis:7-alpine");
    let mut progress = service
        .pull(&PullOptions {
            reference: "redis:7-alpine".into(),
            ..PullOptions::default()
        })
        .await?;
    while let Some(event) = progress.next().await {
        match event? {
            ProgressEvent::Layer(layer) => match (layer.current, layer.total) {
                (Some(current), Some(total)) => {
                    println!("{}: {} {current}/{total}", layer.id, layer.status)
                }
                _ => println!("{}: {}", layer.id, layer.status),
            },
            ProgressEvent::Message { text } => println!("{text}"),
            ProgressEvent::Done(done) => println!("{}", done.reference.unwrap_or_default()),
        }
    }

    println!();
    print_images(&service).await?;

    let usage = service.disk_usage().await?;
    println!(
        "\n{} images, {} active, {} bytes in layers, {} reclaimable",
        usage.images.len(),
        usage.active(),
        usage.layers_size,
        usage.reclaimable
    );
    Ok(())
}

async fn print_images(service: &dyn ImageService) -> Result<(), Box<dyn std::error::Error>> {
    println!("$ images");
    println!(
        "{:<45} {:<12} {:<14} {:<22} {:>10}",
        "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"
    );
    for image in service.list(&ListOptions::default()).await? {
        let created = image
            .created
            .map(|c| c.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        let tags = if image.repo_tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            image.repo_tags.clone()
        };
        for tag in tags {
            let (repository, tag) = tag.rsplit_once(':').unwrap_or((tag.as_str(), ""));
            println!(
                "{:<45} {:<12} {:<14} {:<22} {:>10}",
                repository,
                tag,
                short_id(&image.id),
                created,
                image.size
            );
        }
    }
    Ok(())
}
