//! glint's own text for the ids a local model generates.
//!
//! mistralrs 0.8.1 decodes its output with special tokens dropped unless the
//! chat template happens to hold both think tags, and it counts every added
//! `<...>` token as special: a GGUF, or a directory without such a template,
//! silently loses every `<tool_call>` and `</think>`. glint therefore streams
//! its own decoding of the generated ids, special tokens kept, through the
//! model's tokenizer.
//!
//! Decoding is incremental in the usual way: decode the ids since a
//! remembered prefix, and emit what extends the prefix's own decoding once
//! it ends in a complete character. A character split across tokens (byte
//! fallback, byte-level BPE) decodes to U+FFFD until its last byte arrives,
//! so only complete characters are sent; decoding from a prefix rather than
//! token by token keeps what tokenizers do at a word's start (SentencePiece's
//! leading space) the same as in a whole decode.

use std::sync::Arc;

use super::super::EngineError;

/// Turns ids into text with special tokens kept.
pub(super) trait Detokenize {
    async fn decode(&self, ids: &[u32]) -> Result<String, EngineError>;
}

impl Detokenize for Arc<mistralrs::Model> {
    async fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        let model = Arc::clone(self);
        let ids = ids.to_vec();
        // In a task of its own: mistralrs's engine thread panics (and stops
        // serving every request) when a decode's reply finds its receiver
        // gone, which dropping this future mid-call (a cancelled turn) would
        // do. The task always takes the reply.
        tokio::spawn(async move { model.detokenize(ids, false).await })
            .await
            .map_err(|e| EngineError::Backend(format!("the tokenizer task failed: {e}")))?
            .map_err(|e| EngineError::Backend(format!("the tokenizer failed to decode: {e}")))
    }
}

/// The generated ids so far and how much of them has been sent as text.
#[derive(Debug, Default)]
pub(super) struct IncrementalDecoder {
    ids: Vec<u32>,
    /// Where the ids decoded for context start.
    prefix: usize,
    /// The ids before this have been sent.
    read: usize,
    /// The decoding of `ids[prefix..read]`, once computed.
    prefix_text: Option<String>,
    /// Everything sent so far.
    sent: String,
}

impl IncrementalDecoder {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn push(&mut self, ids: &[u32]) {
        self.ids.extend_from_slice(ids);
    }

    /// Everything sent so far: the decoding of the ids up to the last
    /// complete character.
    pub fn sent(&self) -> &str {
        &self.sent
    }

    /// The text the ids pushed since the last call complete; empty while a
    /// character is still incomplete.
    pub async fn next_text(&mut self, tokenizer: &impl Detokenize) -> Result<String, EngineError> {
        self.advance(tokenizer, false).await
    }

    /// Everything not sent yet, an incomplete last character included (as
    /// U+FFFD, which is what a whole decode of the ids says too).
    pub async fn flush(&mut self, tokenizer: &impl Detokenize) -> Result<String, EngineError> {
        self.advance(tokenizer, true).await
    }

    async fn advance(
        &mut self,
        tokenizer: &impl Detokenize,
        last: bool,
    ) -> Result<String, EngineError> {
        if self.read == self.ids.len() {
            return Ok(String::new());
        }
        let prefix_text = match self.prefix_text.take() {
            Some(text) => text,
            None if self.prefix == self.read => String::new(),
            None => tokenizer.decode(&self.ids[self.prefix..self.read]).await?,
        };
        let full = tokenizer.decode(&self.ids[self.prefix..]).await?;
        let complete = full.len() > prefix_text.len() && !full.ends_with('\u{FFFD}');
        if !(complete || last) {
            self.prefix_text = Some(prefix_text);
            return Ok(String::new());
        }
        let new = match full.strip_prefix(prefix_text.as_str()) {
            Some(new) => new.to_string(),
            // A decoder that rewrote the prefix's text (none glint knows):
            // send what follows the common part rather than nothing.
            None => {
                let common = common_prefix_len(&full, &prefix_text);
                full[common..].to_string()
            }
        };
        self.prefix = self.read;
        self.read = self.ids.len();
        self.sent.push_str(&new);
        Ok(new)
    }
}

/// The byte length of the longest common prefix of `a` and `b`, on a
/// character boundary.
fn common_prefix_len(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((at, _), _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte-level tokenizer: each id is a run of bytes, and a decode is
    /// the lossy UTF-8 of their concatenation (what byte-level BPE does).
    struct Bytes(Vec<Vec<u8>>);

    impl Detokenize for Bytes {
        async fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
            let bytes: Vec<u8> = ids
                .iter()
                .flat_map(|&id| self.0[id as usize].clone())
                .collect();
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
    }

    fn crab_split() -> Bytes {
        let crab = "🦀".as_bytes();
        Bytes(vec![
            b"<tool_call>".to_vec(),
            crab[..1].to_vec(),
            crab[1..3].to_vec(),
            crab[3..].to_vec(),
            b" ok".to_vec(),
            "é".as_bytes()[..1].to_vec(),
        ])
    }

    #[tokio::test]
    async fn a_character_split_across_tokens_is_sent_whole_once_complete() {
        let tokenizer = crab_split();
        let mut decoder = IncrementalDecoder::default();
        let mut pieces = Vec::new();
        for id in [0u32, 1, 2, 3, 4] {
            decoder.push(&[id]);
            pieces.push(decoder.next_text(&tokenizer).await.expect("decodes"));
        }
        assert_eq!(pieces, ["<tool_call>", "", "", "🦀", " ok"]);
        assert_eq!(decoder.sent(), "<tool_call>🦀 ok");
        let whole = tokenizer.decode(&[0, 1, 2, 3, 4]).await.expect("decodes");
        assert_eq!(decoder.sent(), whole);
    }

    #[tokio::test]
    async fn an_incomplete_last_character_is_flushed_as_the_whole_decode_says() {
        let tokenizer = crab_split();
        let mut decoder = IncrementalDecoder::default();
        decoder.push(&[4, 5]);
        assert_eq!(decoder.next_text(&tokenizer).await.expect("decodes"), "");
        assert_eq!(
            decoder.flush(&tokenizer).await.expect("decodes"),
            " ok\u{FFFD}"
        );
        assert_eq!(decoder.flush(&tokenizer).await.expect("decodes"), "");
        assert_eq!(decoder.len(), 2);
    }

    #[test]
    fn the_common_prefix_ends_on_a_character_boundary() {
        assert_eq!(common_prefix_len("héllo", "hélp"), 4);
        assert_eq!(common_prefix_len("ab", "abc"), 2);
        assert_eq!(common_prefix_len("é", "è"), 0);
    }
}
