//! The [`ImageService`] trait: every image operation imgctl offers, with its
//! contract, independent of the engine behind it.
//!
//! The CLI and the HTTP service are written against this trait only. The
//! Docker backend implements it over the Engine API, [`MemoryImageService`]
//! implements it in memory, and with the `mock` feature mockall generates
//! `MockImageService` from it for consumers' unit tests.
//!
//! [`MemoryImageService`]: crate::MemoryImageService

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::change::ChangeStream;
use crate::error::{ImageError, Result};
use crate::memory::EngineSnapshot;
use crate::model::{
    BuildOptions, Completion, ContainerRef, Digest, DiskUsage, HistoryEntry, ImageDetails,
    ImageSummary, ListOptions, LoadReport, ProgressEvent, PruneOptions, PruneReport, PullOptions,
    PushOptions, RegistryAuth, RemoveAction, RemoveOptions, SearchResult,
};

/// A stream of progress events; see [`ProgressEvent`] for its shape.
/// Dropping it cancels the operation.
pub type ProgressStream = BoxStream<'static, Result<ProgressEvent>>;

/// A stream of bytes, such as a docker-save archive or a build context tar.
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// The `dyn` form of the trait, as frontends hold it.
pub type DynImageService = dyn ImageService;

/// Where a build's context comes from.
pub enum BuildContext {
    /// A directory on the machine running the backend's client; the backend
    /// packs it, honouring `.dockerignore`.
    Directory(PathBuf),
    /// An uncompressed tar of the context, as `docker build -` takes it.
    Tar(ByteStream),
}

impl fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildContext::Directory(path) => f.debug_tuple("Directory").field(path).finish(),
            BuildContext::Tar(_) => f.write_str("Tar(..)"),
        }
    }
}

/// Manages the container images of one engine.
///
/// # Contract
///
/// Every method names images the way `docker` does: a reference
/// (`alpine`, `alpine:3.20`, `127.0.0.1:5000/app@sha256:...`, normalized as
/// docker normalizes it), a full ID (`sha256:<64 hex>` or the bare 64 hex),
/// or a unique ID prefix of at least one hex character. An unknown image is
/// [`ImageError::NotFound`]; text that is not a reference is
/// [`ImageError::InvalidReference`]. No method reports success for work that
/// failed, and no method deletes more than it reports.
///
/// - [`list`](Self::list) returns top-level images (or all with
///   `all`), filtered by every filter in the options (see
///   [`ImageFilters`](crate::ImageFilters)), newest first. `containers` counts
///   running and stopped containers.
/// - [`inspect`](Self::inspect) returns the details of one image.
/// - [`history`](Self::history) returns one entry per layer-producing or
///   empty step, newest first.
/// - [`pull`](Self::pull) and [`push`](Self::push) validate their arguments
///   before returning (a bad reference is an `Err` of the call itself), then
///   stream progress that ends with exactly one
///   [`ProgressEvent::Done`] or an `Err` item. Dropping the stream cancels the
///   transfer.
/// - [`tag`](Self::tag) makes `target` point at the image `source` names,
///   moving `target` if it existed.
/// - [`remove`](Self::remove) follows docker's rules: removing a tag of an
///   image with other references only untags it; the image is deleted when
///   its last reference goes. An image used by a container is refused with
///   [`ImageError::Conflict`] unless forced (a running container's image is
///   refused even when forced); deleting by ID an image tagged in several
///   repositories is refused unless forced. Without `no_prune`, untagged
///   parents that become unused are deleted too. The returned actions list
///   every untag and delete, in order.
/// - [`prune`](Self::prune) deletes dangling images (or, with `all`, every
///   image no container uses) that pass the filters, and reports each action
///   and the bytes freed. With `dry_run` nothing is deleted and the report
///   says what would be: exactly the report the same prune would return now.
///   A backend that cannot know that in advance returns
///   [`ImageError::NotSupported`] instead of an estimate.
/// - [`disk_usage`](Self::disk_usage) gives per-image shared and unique
///   sizes; `layers_size` counts each layer once.
/// - [`containers_using`](Self::containers_using) lists the containers,
///   running or stopped, created from the image.
/// - [`build`](Self::build) streams build output and ends with a
///   [`ProgressEvent::Done`] whose `image_id` is the result.
/// - [`save`](Self::save) streams a docker-save tar of the images;
///   [`load`](Self::load) reads one and reports what it loaded.
/// - [`search`](Self::search) searches the default registry.
/// - [`changes`](Self::changes) streams the engine's image and container
///   changes from the moment it returns (a backend may also replay a few
///   recent ones; consumers treat an event as "something changed", never
///   as state). A backend without a feed returns
///   [`ImageError::NotSupported`], which is what the default does.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ImageService: Send + Sync + fmt::Debug + 'static {
    /// Lists images.
    async fn list(&self, options: &ListOptions) -> Result<Vec<ImageSummary>>;

    /// Returns the details of one image.
    async fn inspect(&self, image: &str) -> Result<ImageDetails>;

    /// Returns the history of one image, newest step first.
    async fn history(&self, image: &str) -> Result<Vec<HistoryEntry>>;

    /// Pulls an image (or every tag of a repository) from a registry.
    async fn pull(&self, options: &PullOptions) -> Result<ProgressStream>;

    /// Pushes an image (or every local tag of a repository) to a registry.
    async fn push(&self, options: &PushOptions) -> Result<ProgressStream>;

    /// Tags the image `source` names as `target`.
    async fn tag(&self, source: &str, target: &str) -> Result<()>;

    /// Removes an image or one of its references.
    async fn remove(&self, image: &str, options: &RemoveOptions) -> Result<Vec<RemoveAction>>;

    /// Deletes unused images (or, with `dry_run`, reports what it would
    /// delete).
    async fn prune(&self, options: &PruneOptions) -> Result<PruneReport>;

    /// Reports the disk usage of local images.
    async fn disk_usage(&self) -> Result<DiskUsage>;

    /// Lists the containers, running or stopped, that use an image.
    async fn containers_using(&self, image: &str) -> Result<Vec<ContainerRef>>;

    /// Builds an image from a context.
    async fn build(&self, context: BuildContext, options: &BuildOptions) -> Result<ProgressStream>;

    /// Writes images to a docker-save tar stream.
    async fn save(&self, images: &[String]) -> Result<ByteStream>;

    /// Loads images from a docker-save tar stream.
    async fn load(&self, archive: ByteStream) -> Result<LoadReport>;

    /// Searches the registry for repositories matching `term`.
    async fn search(&self, term: &str, limit: Option<u32>) -> Result<Vec<SearchResult>>;

    /// Subscribes to the engine's image and container changes.
    ///
    /// The default is [`ImageError::NotSupported`], for backends without a
    /// change feed.
    async fn changes(&self) -> Result<ChangeStream> {
        Err(ImageError::not_supported(
            "the change feed",
            std::any::type_name::<Self>(),
        ))
    }

    /// Takes a snapshot of every image (intermediate ones included, with
    /// their layers and the layers' sizes) and every container: what the
    /// engine's prune rules and a cleanup plan look at.
    ///
    /// The default is [`ImageError::NotSupported`].
    async fn snapshot(&self) -> Result<EngineSnapshot> {
        Err(ImageError::not_supported(
            "snapshots",
            std::any::type_name::<Self>(),
        ))
    }

    /// Asks the registry which digest `reference` (`name[:tag]`) points at
    /// now: the manifest or index digest that a pull would record in the
    /// image's repo digests. `None` when the registry has no such tag.
    /// Credentials are `auth`, else the backend's own (docker config).
    ///
    /// The default is [`ImageError::NotSupported`].
    async fn registry_digest(
        &self,
        reference: &str,
        auth: Option<RegistryAuth>,
    ) -> Result<Option<Digest>> {
        let _ = (reference, auth);
        Err(ImageError::not_supported(
            "registry digests",
            std::any::type_name::<Self>(),
        ))
    }
}

macro_rules! forward_image_service {
    ($ty:ty) => {
        #[async_trait]
        impl<T: ImageService + ?Sized> ImageService for $ty {
            async fn list(&self, options: &ListOptions) -> Result<Vec<ImageSummary>> {
                (**self).list(options).await
            }
            async fn inspect(&self, image: &str) -> Result<ImageDetails> {
                (**self).inspect(image).await
            }
            async fn history(&self, image: &str) -> Result<Vec<HistoryEntry>> {
                (**self).history(image).await
            }
            async fn pull(&self, options: &PullOptions) -> Result<ProgressStream> {
                (**self).pull(options).await
            }
            async fn push(&self, options: &PushOptions) -> Result<ProgressStream> {
                (**self).push(options).await
            }
            async fn tag(&self, source: &str, target: &str) -> Result<()> {
                (**self).tag(source, target).await
            }
            async fn remove(
                &self,
                image: &str,
                options: &RemoveOptions,
            ) -> Result<Vec<RemoveAction>> {
                (**self).remove(image, options).await
            }
            async fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
                (**self).prune(options).await
            }
            async fn disk_usage(&self) -> Result<DiskUsage> {
                (**self).disk_usage().await
            }
            async fn containers_using(&self, image: &str) -> Result<Vec<ContainerRef>> {
                (**self).containers_using(image).await
            }
            async fn build(
                &self,
                context: BuildContext,
                options: &BuildOptions,
            ) -> Result<ProgressStream> {
                (**self).build(context, options).await
            }
            async fn save(&self, images: &[String]) -> Result<ByteStream> {
                (**self).save(images).await
            }
            async fn load(&self, archive: ByteStream) -> Result<LoadReport> {
                (**self).load(archive).await
            }
            async fn search(&self, term: &str, limit: Option<u32>) -> Result<Vec<SearchResult>> {
                (**self).search(term, limit).await
            }
            async fn changes(&self) -> Result<ChangeStream> {
                (**self).changes().await
            }
            async fn snapshot(&self) -> Result<EngineSnapshot> {
                (**self).snapshot().await
            }
            async fn registry_digest(
                &self,
                reference: &str,
                auth: Option<RegistryAuth>,
            ) -> Result<Option<Digest>> {
                (**self).registry_digest(reference, auth).await
            }
        }
    };
}

forward_image_service!(Arc<T>);
forward_image_service!(Box<T>);

/// Conveniences over [`ImageService`], for callers. Implementors never
/// touch this trait: every `ImageService` gets it.
#[async_trait]
pub trait ImageServiceExt: ImageService {
    /// Pulls and waits for the end, returning the completion.
    async fn pull_to_end(&self, options: &PullOptions) -> Result<Completion> {
        finish(self.pull(options).await?).await
    }

    /// Pushes and waits for the end, returning the completion.
    async fn push_to_end(&self, options: &PushOptions) -> Result<Completion> {
        finish(self.push(options).await?).await
    }

    /// Builds and waits for the end, returning the completion.
    async fn build_to_end(
        &self,
        context: BuildContext,
        options: &BuildOptions,
    ) -> Result<Completion> {
        finish(self.build(context, options).await?).await
    }

    /// Saves images into memory as one docker-save archive.
    async fn save_to_vec(&self, images: &[String]) -> Result<Vec<u8>> {
        let chunks: Vec<Bytes> = self.save(images).await?.try_collect().await?;
        Ok(chunks.concat())
    }

    /// Loads a docker-save archive held in memory.
    async fn load_bytes(&self, archive: Vec<u8>) -> Result<LoadReport> {
        let stream = futures::stream::once(async move { Ok(Bytes::from(archive)) });
        self.load(stream.boxed()).await
    }

    /// Whether `image` names a local image.
    async fn exists(&self, image: &str) -> Result<bool> {
        match self.inspect(image).await {
            Ok(_) => Ok(true),
            Err(ImageError::NotFound { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

impl<S: ImageService + ?Sized> ImageServiceExt for S {}

/// Drains a progress stream and returns its completion. A stream that ends
/// without a [`ProgressEvent::Done`] is a backend error, never a success.
pub async fn finish(mut stream: ProgressStream) -> Result<Completion> {
    let mut done = None;
    while let Some(event) = stream.next().await {
        if let ProgressEvent::Done(completion) = event? {
            done = Some(completion);
        }
    }
    done.ok_or_else(|| {
        ImageError::backend(
            "the progress stream ended without reporting success",
            "stream ended early",
        )
    })
}
