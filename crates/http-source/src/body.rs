//! Reading responses safely: a body capped at a size, and transport errors
//! described with their causes.

/// A mebibyte, the unit of response caps in configurations.
pub const MIB: u64 = 1024 * 1024;

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the cap: the same request gets the same answer again,
    /// so this is not worth a retry. The text completes "the response body
    /// … the cap" (`announces 5000 bytes, more than`, `exceeds`).
    TooLarge(String),
    /// The connection failed while reading: retriable.
    Read(String),
}

/// Reads the body, at most `limit` bytes of it.
///
/// reqwest inflates a gzip body as it streams (and then drops the
/// `Content-Length`, the compressed size), so the cap counts the
/// decompressed bytes chunk by chunk: a compressed bomb stops at the cap
/// after reading less than the cap off the wire, since the compressed form
/// is the smaller. An uncompressed body announcing more than the cap is
/// refused before its first byte. What is left unbounded, a compressed
/// stream yielding no output, is bounded by the client's timeout.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: u64,
) -> Result<Vec<u8>, BodyError> {
    if let Some(length) = response.content_length().filter(|l| *l > limit) {
        return Err(BodyError::TooLarge(format!("announces {length} bytes, more than")));
    }
    // One allocation for a body that announces its length; a page of
    // records is about a megabyte, which doubling would copy ~20 times.
    let announced = response.content_length().map_or(0, |l| l.min(limit));
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Err(BodyError::TooLarge("exceeds".to_owned()));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(error) => {
                return Err(BodyError::Read(format!(
                    "reading the response body: {}",
                    describe(&error)
                )));
            }
        }
    }
}

/// A reqwest error with its causes (reqwest's own message is terse).
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        String::new()
    };
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(body: &'static str) -> String {
        let app = axum::Router::new().route("/", axum::routing::get(move || async move { body }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn a_body_within_the_cap_is_read_and_a_larger_one_refused() {
        let url = serve("0123456789").await;
        let get = || async { reqwest::get(&url).await.unwrap() };
        assert_eq!(read_capped(get().await, 10).await.unwrap(), b"0123456789");
        assert_eq!(
            read_capped(get().await, 9).await.unwrap_err(),
            BodyError::TooLarge("announces 10 bytes, more than".into())
        );
    }

    #[tokio::test]
    async fn a_refused_connection_says_so_with_its_cause() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let error = reqwest::get(format!("http://{addr}/")).await.unwrap_err();
        let text = describe(&error);
        assert!(text.starts_with("connection failed: "), "{text}");
    }
}
