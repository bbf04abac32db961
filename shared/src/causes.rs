//! An error and its chain of causes as one line. General: used by the SDK
//! adapters and by the custom-resource library, and imports nothing else.

use std::error::Error;

/// `outer: cause: root cause`, outermost first, with a cause that only
/// repeats the text before it left out; `None` when there is no error.
pub(crate) fn chain<'a>(error: Option<&'a (dyn Error + 'a)>) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut next = error;
    while let Some(e) = next {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    (!parts.is_empty()).then(|| parts.join(": "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{text}")]
    struct Layer {
        text: &'static str,
        #[source]
        cause: Option<Box<Layer>>,
    }

    fn layer(text: &'static str, cause: Option<Layer>) -> Layer {
        Layer { text, cause: cause.map(Box::new) }
    }

    #[test]
    fn the_chain_reads_outermost_first_without_repeats() {
        let error =
            layer("send failed", Some(layer("io error", Some(layer("io error", Some(layer("refused", None)))))));
        assert_eq!(chain(Some(&error)).as_deref(), Some("send failed: io error: refused"));
        assert_eq!(chain(None), None);
    }
}
