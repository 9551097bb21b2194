//! Byte-level BPE (GPT-2 style), as stored in GGUF files with `tokenizer.ggml.model == "gpt2"`.
//!
//! Encoding: the text is split by a pre-tokenizer ([`PreTokenizer`]) into pieces; each piece's
//! UTF-8 bytes are mapped to GPT-2's printable stand-in characters ([`byte_to_unicode`]), each
//! to its token, and adjacent tokens are merged by the merge rules, lowest rank (earliest rule)
//! first, leftmost first among equal ranks — the algorithm of GPT-2, Hugging Face `tokenizers`
//! and llama.cpp. Decoding maps the tokens' characters back to bytes.
//!
//! Special tokens (`<|im_start|>` ...) in the text are not recognised: text is always encoded
//! as plain text (llama.cpp's `parse_special = false`).

use super::error::{Result, WeightsError};
use super::gguf::GgufFile;
use super::TensorSource;
use std::collections::HashMap;
use std::path::PathBuf;

/// GPT-2's pre-tokenizer pattern (Hugging Face's `ByteLevel` with `use_regex`; the trailing
/// `\s+` only catches a lone whitespace character before a non-space, which llama.cpp keeps as
/// an unmatched piece of its own: the same split).
const GPT2_PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// How text is split into pieces before BPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's regular expression (llama.cpp pre-types `gpt-2`, `mpt`, `olmo`, `jais`, `phi-2`,
    /// `roberta-bpe`, ...).
    Gpt2,
    /// Every numeric character (`\p{N}`) a piece of its own, then GPT-2's expression on the
    /// text between them: llama.cpp's pre-types `smollm`, `starcoder`, `refact`, `command-r`,
    /// `codeshell`, `exaone`, `minerva-7b` (regexes `\p{N}` then GPT-2's), which is Hugging
    /// Face's `Sequence[Digits(individual_digits), ByteLevel]` of SmolLM2 / StarCoder.
    DigitsThenGpt2,
}

impl PreTokenizer {
    /// The pre-tokenizer of a llama.cpp `tokenizer.ggml.pre` name, when it is one of the two.
    pub fn from_llama_cpp_name(name: &str) -> Option<PreTokenizer> {
        match name {
            "gpt-2" | "gpt2" | "mpt" | "olmo" | "jais" | "phi-2" | "roberta-bpe" | "trillion" | "granite-docling" => {
                Some(PreTokenizer::Gpt2)
            }
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
                Some(PreTokenizer::DigitsThenGpt2)
            }
            _ => None,
        }
    }
}

/// The ids of the special tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpecialTokens {
    /// Beginning of sequence.
    pub bos: Option<u32>,
    /// End of sequence.
    pub eos: Option<u32>,
    /// Unknown token (used for a byte that has no token).
    pub unk: Option<u32>,
    /// Padding.
    pub pad: Option<u32>,
}

/// GPT-2's map from bytes to printable characters: `!`..`~`, `¡`..`¬` and `®`..`ÿ` stand for
/// themselves, the other 68 bytes for U+0100 onwards in byte order.
pub fn byte_to_unicode() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut next = 256u32;
    for (b, slot) in out.iter_mut().enumerate() {
        let keep = (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        let code = if keep {
            b as u32
        } else {
            next += 1;
            next - 1
        };
        *slot = char::from_u32(code).unwrap_or('\u{FFFD}');
    }
    out
}

/// A byte-level BPE tokenizer.
#[derive(Debug)]
pub struct BpeTokenizer {
    path: PathBuf,
    tokens: Vec<String>,
    vocab: HashMap<String, u32>,
    /// (left, right) → (rank, merged token).
    merges: HashMap<(u32, u32), (u32, u32)>,
    byte_ids: [Option<u32>; 256],
    char_to_byte: HashMap<char, u8>,
    pre: PreTokenizer,
    regex: fancy_regex::Regex,
    special: SpecialTokens,
    add_bos: bool,
}

impl BpeTokenizer {
    /// Builds a tokenizer from its tokens (id = position), merge rules (`"left right"`, rank =
    /// position) and pre-tokenizer. A rule whose parts or result are not tokens is skipped; a
    /// token listed twice keeps its last id (as llama.cpp).
    pub fn new(
        tokens: Vec<String>,
        merges: &[impl AsRef<str>],
        pre: PreTokenizer,
        special: SpecialTokens,
        add_bos: bool,
    ) -> Result<BpeTokenizer> {
        Self::build(PathBuf::new(), tokens, merges, pre, special, add_bos)
    }

    fn build(
        path: PathBuf,
        tokens: Vec<String>,
        merges: &[impl AsRef<str>],
        pre: PreTokenizer,
        special: SpecialTokens,
        add_bos: bool,
    ) -> Result<BpeTokenizer> {
        let err = |what: String| WeightsError::Tokenizer { path: path.clone(), what };
        if tokens.len() > u32::MAX as usize {
            return Err(err("more than 2³² tokens".into()));
        }
        let vocab: HashMap<String, u32> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let mut table = HashMap::with_capacity(merges.len());
        for (rank, rule) in merges.iter().enumerate() {
            let rule = rule.as_ref();
            let split = rule.char_indices().skip(1).find(|&(_, c)| c == ' ').map(|(i, _)| i);
            let Some(at) = split else {
                return Err(err(format!("merge rule {rank} `{rule}` is not two tokens separated by a space")));
            };
            let (l, r) = (&rule[..at], &rule[at + 1..]);
            let (Some(&li), Some(&ri)) = (vocab.get(l), vocab.get(r)) else { continue };
            let Some(&mi) = vocab.get(&format!("{l}{r}")) else { continue };
            table.entry((li, ri)).or_insert((rank as u32, mi));
        }
        let map = byte_to_unicode();
        let mut byte_ids = [None; 256];
        let mut char_to_byte = HashMap::with_capacity(256);
        for (b, &c) in map.iter().enumerate() {
            byte_ids[b] = vocab.get(c.to_string().as_str()).copied();
            char_to_byte.insert(c, b as u8);
        }
        for (name, id) in [("bos", special.bos), ("eos", special.eos), ("unk", special.unk), ("pad", special.pad)] {
            if let Some(id) = id.filter(|&id| id as usize >= tokens.len()) {
                return Err(err(format!("the {name} token id {id} is beyond the {} tokens", tokens.len())));
            }
        }
        let regex = fancy_regex::Regex::new(GPT2_PATTERN).map_err(|e| err(format!("pre-tokenizer pattern: {e}")))?;
        Ok(BpeTokenizer { path, tokens, vocab, merges: table, byte_ids, char_to_byte, pre, regex, special, add_bos })
    }

    /// The tokenizer of a GGUF file: `tokenizer.ggml.tokens`, `.merges`, `.pre` (see
    /// [`PreTokenizer::from_llama_cpp_name`]; absent means GPT-2's), the special ids
    /// `tokenizer.ggml.{bos,eos,unknown,padding}_token_id` and `tokenizer.ggml.add_bos_token`
    /// (default false). Only `tokenizer.ggml.model == "gpt2"` is supported.
    pub fn from_gguf(g: &GgufFile) -> Result<BpeTokenizer> {
        let path = g.path().to_path_buf();
        let err = |what: String| WeightsError::Tokenizer { path: path.clone(), what };
        let missing = |f: &str| WeightsError::MissingField { path: path.clone(), field: f.into() };
        let model = g.get("tokenizer.ggml.model").ok_or_else(|| missing("tokenizer.ggml.model"))?;
        match model.as_str() {
            Some("gpt2") => {}
            Some(m) => return Err(err(format!("`tokenizer.ggml.model` is `{m}`; only `gpt2` (byte-level BPE) is supported"))),
            None => return Err(err("`tokenizer.ggml.model` is not a string".into())),
        }
        let strings = |key: &str| -> Result<Vec<String>> {
            let v = g.get(key).ok_or_else(|| missing(key))?;
            let a = v.as_array().ok_or_else(|| err(format!("`{key}` is a {}, not an array", v.type_name())))?;
            a.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(|| err(format!("`{key}` holds a {}, not strings", s.type_name())))).collect()
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
        let merges = strings("tokenizer.ggml.merges")?;
        let pre = match g.get("tokenizer.ggml.pre") {
            None => PreTokenizer::Gpt2,
            Some(v) => {
                let name = v.as_str().ok_or_else(|| err("`tokenizer.ggml.pre` is not a string".into()))?;
                PreTokenizer::from_llama_cpp_name(name).ok_or_else(|| {
                    err(format!(
                        "pre-tokenizer `{name}` is not implemented (known: gpt-2 family, smollm/starcoder family); \
                         build the tokenizer with `BpeTokenizer::new` and a chosen `PreTokenizer`"
                    ))
                })?
            }
        };
        let id = |key: &str| -> Result<Option<u32>> {
            match g.get(key) {
                None => Ok(None),
                Some(v) => v.as_u64().and_then(|n| u32::try_from(n).ok()).map(Some).ok_or_else(|| err(format!("`{key}` is not a token id"))),
            }
        };
        let special = SpecialTokens {
            bos: id("tokenizer.ggml.bos_token_id")?,
            eos: id("tokenizer.ggml.eos_token_id")?,
            unk: id("tokenizer.ggml.unknown_token_id")?,
            pad: id("tokenizer.ggml.padding_token_id")?,
        };
        let add_bos = match g.get("tokenizer.ggml.add_bos_token") {
            None => false,
            Some(v) => v.as_bool().ok_or_else(|| err("`tokenizer.ggml.add_bos_token` is not a boolean".into()))?,
        };
        Self::build(path.clone(), tokens, &merges, pre, special, add_bos)
    }

    /// The tokenizer of a Hugging Face folder: `tokenizer.json` (a `BPE` model with its `vocab`
    /// and `merges` — `"left right"` strings or `[left, right]` pairs —, the `added_tokens`, and
    /// a `ByteLevel` pre-tokenizer, alone or after `Digits` with `individual_digits`, i.e.
    /// [`PreTokenizer::Gpt2`] or [`PreTokenizer::DigitsThenGpt2`]) and, when present,
    /// `tokenizer_config.json` for the special tokens (`bos_token`, `eos_token`, `unk_token`,
    /// `pad_token`, as strings or `{"content": ...}`) and `add_bos_token` (default false).
    /// `None` when the folder has no `tokenizer.json`.
    pub fn from_hf_folder(dir: &std::path::Path) -> Result<Option<BpeTokenizer>> {
        let path = dir.join("tokenizer.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(WeightsError::Io { path, source }),
        };
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|source| WeightsError::Json { path: path.clone(), source })?;
        let err = |what: String| WeightsError::Tokenizer { path: path.clone(), what };
        let missing = |f: &str| WeightsError::MissingField { path: path.clone(), field: f.into() };
        let model = json.get("model").ok_or_else(|| missing("model"))?;
        match model.get("type").and_then(|t| t.as_str()) {
            Some("BPE") | None => {}
            Some(t) => return Err(err(format!("model type `{t}`; only `BPE` (byte-level) is supported"))),
        }
        if model.get("byte_fallback").and_then(|b| b.as_bool()) == Some(true) {
            return Err(err("a BPE with `byte_fallback` (SentencePiece-style) is not supported; only byte-level BPE is".into()));
        }
        let vocab = model.get("vocab").and_then(|v| v.as_object()).ok_or_else(|| missing("model.vocab"))?;
        let mut by_id: Vec<Option<String>> = vec![];
        let mut put = |token: &str, id: u64| -> Result<()> {
            let id = usize::try_from(id).ok().filter(|&i| i < u32::MAX as usize).ok_or_else(|| err(format!("token `{token}` has id {id}")))?;
            if by_id.len() <= id {
                by_id.resize(id + 1, None);
            }
            by_id[id] = Some(token.to_owned());
            Ok(())
        };
        for (token, id) in vocab {
            put(token, id.as_u64().ok_or_else(|| err(format!("the id of token `{token}` is not a number")))?)?;
        }
        for added in json.get("added_tokens").and_then(|a| a.as_array()).map(Vec::as_slice).unwrap_or_default() {
            let (Some(content), Some(id)) = (added.get("content").and_then(|c| c.as_str()), added.get("id").and_then(|i| i.as_u64())) else {
                return Err(err("an entry of `added_tokens` lacks `content` or `id`".into()));
            };
            put(content, id)?;
        }
        let tokens: Vec<String> = by_id.into_iter().enumerate().map(|(i, t)| t.ok_or_else(|| err(format!("no token has id {i}")))).collect::<Result<_>>()?;
        let merges: Vec<String> = model
            .get("merges")
            .and_then(|m| m.as_array())
            .ok_or_else(|| missing("model.merges"))?
            .iter()
            .enumerate()
            .map(|(k, m)| match m {
                serde_json::Value::String(s) => Ok(s.clone()),
                serde_json::Value::Array(pair) if pair.len() == 2 && pair.iter().all(|p| p.is_string()) => Ok(format!("{} {}", pair[0].as_str().unwrap_or_default(), pair[1].as_str().unwrap_or_default())),
                _ => Err(err(format!("merge rule {k} is neither \"left right\" nor [left, right]"))),
            })
            .collect::<Result<_>>()?;
        let kind = |p: &serde_json::Value| p.get("type").and_then(|t| t.as_str()).unwrap_or_default().to_owned();
        let pre = match json.get("pre_tokenizer") {
            Some(p) if kind(p) == "ByteLevel" => PreTokenizer::Gpt2,
            Some(p) if kind(p) == "Sequence" => {
                let parts = p.get("pretokenizers").and_then(|a| a.as_array()).map(Vec::as_slice).unwrap_or_default();
                match parts {
                    [d, b] if kind(d) == "Digits" && d.get("individual_digits").and_then(|v| v.as_bool()) == Some(true) && kind(b) == "ByteLevel" => PreTokenizer::DigitsThenGpt2,
                    [b] if kind(b) == "ByteLevel" => PreTokenizer::Gpt2,
                    _ => return Err(err(format!("pre-tokenizer sequence [{}] is not implemented (known: ByteLevel; Digits then ByteLevel)", parts.iter().map(kind).collect::<Vec<_>>().join(", ")))),
                }
            }
            Some(p) => return Err(err(format!("pre-tokenizer `{}` is not implemented (known: ByteLevel; Digits then ByteLevel)", kind(p)))),
            None => return Err(err("no `pre_tokenizer`: not a byte-level BPE".into())),
        };
        let config_path = dir.join("tokenizer_config.json");
        let config: serde_json::Value = match std::fs::read_to_string(&config_path) {
            Ok(t) => serde_json::from_str(&t).map_err(|source| WeightsError::Json { path: config_path.clone(), source })?,
            Err(_) => serde_json::Value::Null,
        };
        // The special tokens are named by content: looked up in the built vocabulary (so every
        // id is one of its tokens).
        let mut tokenizer = Self::build(path.clone(), tokens, &merges, pre, SpecialTokens::default(), false)?;
        let special_id = |key: &str| -> Result<Option<u32>> {
            let Some(v) = config.get(key).filter(|v| !v.is_null()) else { return Ok(None) };
            let content = v.as_str().or_else(|| v.get("content").and_then(|c| c.as_str())).ok_or_else(|| err(format!("{}: `{key}` is neither a string nor {{\"content\": ...}}", config_path.display())))?;
            tokenizer.id(content).map(Some).ok_or_else(|| err(format!("{}: `{key}` `{content}` is not a token", config_path.display())))
        };
        let special = SpecialTokens { bos: special_id("bos_token")?, eos: special_id("eos_token")?, unk: special_id("unk_token")?, pad: special_id("pad_token")? };
        tokenizer.special = special;
        tokenizer.add_bos = config.get("add_bos_token").and_then(|b| b.as_bool()).unwrap_or(false);
        Ok(Some(tokenizer))
    }

    /// Number of tokens.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// A token's text (in GPT-2's byte characters).
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of a token text.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// Number of merge rules in use.
    pub fn merge_count(&self) -> usize {
        self.merges.len()
    }

    /// The special token ids.
    pub fn special(&self) -> SpecialTokens {
        self.special
    }

    /// Whether sequences should start with BOS (`tokenizer.ggml.add_bos_token`).
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// The pre-tokenizer.
    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.pre
    }

    /// The pieces the pre-tokenizer splits `text` into (they concatenate to `text`).
    pub fn pre_tokenize<'t>(&self, text: &'t str) -> Result<Vec<&'t str>> {
        let mut fragments = Vec::new();
        match self.pre {
            PreTokenizer::Gpt2 => fragments.push(text),
            PreTokenizer::DigitsThenGpt2 => {
                let mut start = 0;
                for (i, c) in text.char_indices() {
                    if c.is_numeric() {
                        if i > start {
                            fragments.push(&text[start..i]);
                        }
                        fragments.push(&text[i..i + c.len_utf8()]);
                        start = i + c.len_utf8();
                    }
                }
                if start < text.len() {
                    fragments.push(&text[start..]);
                }
            }
        }
        let mut out = Vec::new();
        for frag in fragments {
            let mut at = 0;
            for m in self.regex.find_iter(frag) {
                let m = m.map_err(|e| WeightsError::Tokenizer { path: self.path.clone(), what: format!("pre-tokenizer: {e}") })?;
                if m.start() > at {
                    out.push(&frag[at..m.start()]);
                }
                if m.end() > m.start() {
                    out.push(m.as_str());
                }
                at = m.end();
            }
            if at < frag.len() {
                out.push(&frag[at..]);
            }
        }
        Ok(out)
    }

    /// BPE of one piece.
    fn encode_piece(&self, piece: &str, out: &mut Vec<u32>) -> Result<()> {
        let mut syms = Vec::with_capacity(piece.len());
        for &b in piece.as_bytes() {
            match self.byte_ids[b as usize].or(self.special.unk) {
                Some(id) => syms.push(id),
                None => {
                    return Err(WeightsError::Tokenizer {
                        path: self.path.clone(),
                        what: format!("byte 0x{b:02x} has no token and there is no unknown token"),
                    })
                }
            }
        }
        while syms.len() > 1 {
            let mut best: Option<(u32, usize, u32)> = None;
            for i in 0..syms.len() - 1 {
                if let Some(&(rank, merged)) = self.merges.get(&(syms[i], syms[i + 1])) {
                    if best.is_none_or(|(r, _, _)| rank < r) {
                        best = Some((rank, i, merged));
                    }
                }
            }
            let Some((_, i, merged)) = best else { break };
            syms[i] = merged;
            syms.remove(i + 1);
        }
        out.extend_from_slice(&syms);
        Ok(())
    }

    /// Token ids of `text`, without BOS.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 3);
        let mut cache: HashMap<&str, (usize, usize)> = HashMap::new();
        for piece in self.pre_tokenize(text)? {
            if let Some(&(s, e)) = cache.get(piece) {
                out.extend_from_within(s..e);
                continue;
            }
            let s = out.len();
            self.encode_piece(piece, &mut out)?;
            cache.insert(piece, (s, out.len()));
        }
        Ok(out)
    }

    /// [`BpeTokenizer::encode`], with BOS first when the tokenizer asks for it
    /// ([`BpeTokenizer::add_bos`]) and has one.
    pub fn encode_with_bos(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        if let (true, Some(bos)) = (self.add_bos, self.special.bos) {
            ids.push(bos);
        }
        ids.extend(self.encode(text)?);
        Ok(ids)
    }

    /// The bytes of a token sequence (every token rendered, special ones as their text).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            let t = self.token(id).ok_or_else(|| WeightsError::Tokenizer {
                path: self.path.clone(),
                what: format!("token id {id} is beyond the {} tokens", self.tokens.len()),
            })?;
            for c in t.chars() {
                match self.char_to_byte.get(&c) {
                    Some(&b) => out.push(b),
                    None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
        }
        Ok(out)
    }

    /// The text of a token sequence; an error when the bytes are not UTF-8 (a sequence cut
    /// inside a character).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        String::from_utf8(self.decode_bytes(ids)?).map_err(|e| WeightsError::Tokenizer {
            path: self.path.clone(),
            what: format!("the decoded bytes are not UTF-8 ({e})"),
        })
    }
}

/// The GGUF metadata value of a tokenizer list, for callers that need the raw token types.
pub fn token_types(g: &GgufFile) -> Option<Vec<i32>> {
    g.get("tokenizer.ggml.token_type")?.as_array()?.iter().map(|v| v.as_i64().map(|x| x as i32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_map_is_gpt2s() {
        let m = byte_to_unicode();
        assert_eq!(m[b'a' as usize], 'a');
        assert_eq!(m[b' ' as usize], 'Ġ');
        assert_eq!(m[b'\n' as usize], 'Ċ');
        assert_eq!(m[0], 'Ā');
        assert_eq!(m[0xAD], 'Ń');
        let set: std::collections::HashSet<char> = m.iter().copied().collect();
        assert_eq!(set.len(), 256);
    }
}
