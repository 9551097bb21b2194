//! BPE tokenizers of pretrained models, two kinds:
//!
//! * **Byte-level BPE** (GPT-2 style: GGUF `tokenizer.ggml.model == "gpt2"`, Hugging Face
//!   `tokenizer.json` with a `ByteLevel` pre-tokenizer). The text is split by a pre-tokenizer
//!   ([`PreTokenizer`]) into pieces; each piece's UTF-8 bytes are mapped to GPT-2's printable
//!   stand-in characters ([`byte_to_unicode`]), each to its token, and adjacent tokens are merged
//!   by the merge rules, lowest rank (earliest rule) first, leftmost first among equal ranks —
//!   the algorithm of GPT-2, Hugging Face `tokenizers` and llama.cpp. User-defined tokens (GGUF
//!   type 4, a `tokenizer.json`'s non-special added tokens: GPT-NeoX/MPT's runs of spaces) are
//!   split out of the text first, as llama.cpp does. Decoding maps the tokens' characters back
//!   to bytes.
//! * **SentencePiece BPE** (LLaMA-1/2: `tokenizer.model`, GGUF `tokenizer.ggml.model ==
//!   "llama"`, or a `tokenizer.json` BPE with `byte_fallback`; [`PreTokenizer::Metaspace`]).
//!   Spaces become `▁` and one `▁` is prepended; the whole text is one sequence of characters
//!   (user-defined pieces matched first, longest first, and never merged), merged pair by pair:
//!   the pair whose joined piece scores highest first (SentencePiece's scores; a `tokenizer.json`
//!   ranks its merges instead, earliest first), leftmost first among equals, only into normal
//!   pieces. A character left outside the vocabulary becomes its UTF-8 bytes' `<0xXX>` pieces
//!   (byte fallback) or the unknown piece, a run of unknowns one unknown. This is SentencePiece's
//!   `bpe_model.cc` and llama.cpp's SPM tokenizer; `tests/weights.rs` checks it against the
//!   `sentencepiece` and `tokenizers` libraries on a model they trained.
//!
//! Special tokens (`<|im_start|>`, `<s>` ...) in the text are not recognised: text is always
//! encoded as plain text (llama.cpp's `parse_special = false`, SentencePiece's own behaviour).

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
    /// SentencePiece's normalisation (Hugging Face's `Metaspace`, or its `Prepend("▁")` then
    /// `Replace(" ", "▁")` normalizers): spaces written `▁`, the whole text one piece of
    /// characters, with byte fallback instead of byte-level characters.
    Metaspace {
        /// Whether one `▁` is prepended to the text (SentencePiece's `add_dummy_prefix`).
        prefix: bool,
        /// Whether leading, trailing and repeated spaces are removed first
        /// (`remove_extra_whitespaces`).
        squeeze: bool,
    },
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

/// What a piece of a SentencePiece vocabulary is (its `type`; GGUF's `tokenizer.ggml.token_type`
/// uses the same codes). Byte-level vocabularies are all [`PieceKind::Normal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceKind {
    /// A piece merges can make (1).
    Normal,
    /// The unknown piece (2).
    Unknown,
    /// A control piece such as `<s>`, never made from text (3).
    Control,
    /// A piece matched whole in the text before merging (4).
    UserDefined,
    /// A piece merges do not make (5).
    Unused,
    /// A `<0xXX>` byte piece of byte fallback (6).
    Byte,
}

impl PieceKind {
    /// The kind of a type code (1–6).
    pub fn from_code(code: i32) -> Option<PieceKind> {
        Some(match code {
            1 => PieceKind::Normal,
            2 => PieceKind::Unknown,
            3 => PieceKind::Control,
            4 => PieceKind::UserDefined,
            5 => PieceKind::Unused,
            6 => PieceKind::Byte,
            _ => return None,
        })
    }

    /// Its type code.
    pub fn code(self) -> i32 {
        match self {
            PieceKind::Normal => 1,
            PieceKind::Unknown => 2,
            PieceKind::Control => 3,
            PieceKind::UserDefined => 4,
            PieceKind::Unused => 5,
            PieceKind::Byte => 6,
        }
    }
}

/// The byte a `<0xXX>` piece stands for.
fn byte_piece(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    (hex.len() == 2).then(|| u8::from_str_radix(hex, 16).ok()).flatten()
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

/// A BPE tokenizer, byte-level or SentencePiece (the module's documentation says which does
/// what).
#[derive(Debug)]
pub struct BpeTokenizer {
    path: PathBuf,
    tokens: Vec<String>,
    vocab: HashMap<String, u32>,
    /// (left, right) → (rank, merged token).
    merges: HashMap<(u32, u32), (u32, u32)>,
    /// SentencePiece's scores: merges by the joined piece's score instead of ranked rules.
    scores: Option<Vec<f32>>,
    /// Each token's kind.
    kinds: Vec<PieceKind>,
    /// User-defined pieces, longest first.
    user_defined: Vec<(String, u32)>,
    /// Byte-level: the token of each byte's stand-in character; SentencePiece: each byte's
    /// `<0xXX>` piece.
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
        Self::build(PathBuf::new(), tokens, merges, pre, special, add_bos, None, None)
    }

    /// The tokenizer of a SentencePiece `tokenizer.model` ([`super::sentencepiece`]), with BOS
    /// first when `add_bos`.
    pub fn from_sentencepiece_model(path: &std::path::Path, add_bos: bool) -> Result<BpeTokenizer> {
        let m = super::sentencepiece::SentencePieceModel::read(path)?;
        let special = SpecialTokens { bos: m.bos, eos: m.eos, unk: m.unk, pad: m.pad };
        let pre = PreTokenizer::Metaspace { prefix: m.add_dummy_prefix, squeeze: m.remove_extra_whitespaces };
        let mut t = Self::build(path.to_path_buf(), m.pieces, &[] as &[&str], pre, special, add_bos, Some(m.scores), Some(m.kinds))?;
        if !m.byte_fallback {
            t.byte_ids = [None; 256];
        }
        Ok(t)
    }

    fn build(
        path: PathBuf,
        tokens: Vec<String>,
        merges: &[impl AsRef<str>],
        pre: PreTokenizer,
        special: SpecialTokens,
        add_bos: bool,
        scores: Option<Vec<f32>>,
        kinds: Option<Vec<PieceKind>>,
    ) -> Result<BpeTokenizer> {
        let err = |what: String| WeightsError::Tokenizer { path: path.clone(), what };
        if tokens.len() > u32::MAX as usize {
            return Err(err("more than 2³² tokens".into()));
        }
        if let Some(n) = scores.as_ref().map(Vec::len).filter(|&n| n != tokens.len()) {
            return Err(err(format!("{} tokens but {n} scores", tokens.len())));
        }
        if let Some(n) = kinds.as_ref().map(Vec::len).filter(|&n| n != tokens.len()) {
            return Err(err(format!("{} tokens but {n} types", tokens.len())));
        }
        let kinds = kinds.unwrap_or_else(|| vec![PieceKind::Normal; tokens.len()]);
        let sentencepiece = matches!(pre, PreTokenizer::Metaspace { .. });
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
        if sentencepiece {
            for (i, t) in tokens.iter().enumerate() {
                if let Some(b) = byte_piece(t) {
                    byte_ids[b as usize].get_or_insert(i as u32);
                }
            }
        } else {
            for (b, &c) in map.iter().enumerate() {
                byte_ids[b] = vocab.get(c.to_string().as_str()).copied();
                char_to_byte.insert(c, b as u8);
            }
        }
        let mut user_defined: Vec<(String, u32)> =
            kinds.iter().enumerate().filter(|(i, k)| **k == PieceKind::UserDefined && !tokens[*i].is_empty()).map(|(i, _)| (tokens[i].clone(), i as u32)).collect();
        user_defined.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        for (name, id) in [("bos", special.bos), ("eos", special.eos), ("unk", special.unk), ("pad", special.pad)] {
            if let Some(id) = id.filter(|&id| id as usize >= tokens.len()) {
                return Err(err(format!("the {name} token id {id} is beyond the {} tokens", tokens.len())));
            }
        }
        let regex = fancy_regex::Regex::new(GPT2_PATTERN).map_err(|e| err(format!("pre-tokenizer pattern: {e}")))?;
        Ok(BpeTokenizer { path, tokens, vocab, merges: table, scores, kinds, user_defined, byte_ids, char_to_byte, pre, regex, special, add_bos })
    }

    /// The tokenizer of a GGUF file: `tokenizer.ggml.tokens`, `.merges`, `.pre` (see
    /// [`PreTokenizer::from_llama_cpp_name`]; absent means GPT-2's), the special ids
    /// `tokenizer.ggml.{bos,eos,unknown,padding}_token_id` and `tokenizer.ggml.add_bos_token`
    /// (default false). `tokenizer.ggml.model == "llama"` is SentencePiece BPE:
    /// `tokenizer.ggml.tokens`, `.scores`, `.token_type`, `.add_space_prefix` (default true),
    /// `.remove_extra_whitespaces` (default false), `add_bos_token` defaulting to true, as
    /// llama.cpp reads them. Other tokenizer models are refused.
    pub fn from_gguf(g: &GgufFile) -> Result<BpeTokenizer> {
        let path = g.path().to_path_buf();
        let err = |what: String| WeightsError::Tokenizer { path: path.clone(), what };
        let missing = |f: &str| WeightsError::MissingField { path: path.clone(), field: f.into() };
        let model = g.get("tokenizer.ggml.model").ok_or_else(|| missing("tokenizer.ggml.model"))?;
        let sentencepiece = match model.as_str() {
            Some("gpt2") => false,
            Some("llama") => true,
            Some(m) => return Err(err(format!("`tokenizer.ggml.model` is `{m}`; only `gpt2` (byte-level BPE) and `llama` (SentencePiece BPE) are supported"))),
            None => return Err(err("`tokenizer.ggml.model` is not a string".into())),
        };
        let array = |key: &str| -> Result<&[super::gguf::GgufValue]> {
            let v = g.get(key).ok_or_else(|| missing(key))?;
            v.as_array().ok_or_else(|| err(format!("`{key}` is a {}, not an array", v.type_name())))
        };
        let strings = |key: &str| -> Result<Vec<String>> {
            array(key)?.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(|| err(format!("`{key}` holds a {}, not strings", s.type_name())))).collect()
        };
        let kinds = || -> Result<Vec<PieceKind>> {
            array("tokenizer.ggml.token_type")?
                .iter()
                .map(|v| v.as_i64().and_then(|c| i32::try_from(c).ok()).and_then(PieceKind::from_code).ok_or_else(|| err("`tokenizer.ggml.token_type` holds a value that is not a type code 1–6".into())))
                .collect()
        };
        let flag = |key: &str, default: bool| -> Result<bool> {
            match g.get(key) {
                None => Ok(default),
                Some(v) => v.as_bool().ok_or_else(|| err(format!("`{key}` is not a boolean"))),
            }
        };
        let tokens = strings("tokenizer.ggml.tokens")?;
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
        if sentencepiece {
            let scores = array("tokenizer.ggml.scores")?
                .iter()
                .map(|v| v.as_f64().map(|x| x as f32).ok_or_else(|| err(format!("`tokenizer.ggml.scores` holds a {}, not numbers", v.type_name()))))
                .collect::<Result<Vec<f32>>>()?;
            let pre = PreTokenizer::Metaspace { prefix: flag("tokenizer.ggml.add_space_prefix", true)?, squeeze: flag("tokenizer.ggml.remove_extra_whitespaces", false)? };
            let add_bos = flag("tokenizer.ggml.add_bos_token", true)?;
            return Self::build(path.clone(), tokens, &[] as &[&str], pre, special, add_bos, Some(scores), Some(kinds()?));
        }
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
        let add_bos = flag("tokenizer.ggml.add_bos_token", false)?;
        // User-defined tokens (GPT-NeoX/MPT's runs of spaces) are matched in the text first.
        let kinds = if g.get("tokenizer.ggml.token_type").is_some() { Some(kinds()?) } else { None };
        Self::build(path.clone(), tokens, &merges, pre, special, add_bos, None, kinds)
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
        let byte_fallback = model.get("byte_fallback").and_then(|b| b.as_bool()) == Some(true);
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
        // Which added tokens are special (read below, once the vocabulary's size is known).
        let mut added_special: Vec<(u64, bool)> = vec![];
        for added in json.get("added_tokens").and_then(|a| a.as_array()).map(Vec::as_slice).unwrap_or_default() {
            let (Some(content), Some(id)) = (added.get("content").and_then(|c| c.as_str()), added.get("id").and_then(|i| i.as_u64())) else {
                return Err(err("an entry of `added_tokens` lacks `content` or `id`".into()));
            };
            put(content, id)?;
            added_special.push((id, added.get("special").and_then(|v| v.as_bool()).unwrap_or(false)));
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
        let present = |key: &str| json.get(key).filter(|v| !v.is_null());
        let pre = if byte_fallback {
            // SentencePiece converted: Prepend("▁") and Replace(" ", "▁") normalizers (LLaMA's
            // legacy layout), or a Metaspace pre-tokenizer that does not split.
            let replaces_spaces = |n: &serde_json::Value| kind(n) == "Replace" && n.pointer("/pattern/String").and_then(|v| v.as_str()) == Some(" ") && n.get("content").and_then(|v| v.as_str()) == Some("\u{2581}");
            let prepends = |n: &serde_json::Value| kind(n) == "Prepend" && n.get("prepend").and_then(|v| v.as_str()) == Some("\u{2581}");
            match (present("normalizer"), present("pre_tokenizer")) {
                (Some(n), None) if kind(n) == "Sequence" => {
                    let parts = n.get("normalizers").and_then(|a| a.as_array()).map(Vec::as_slice).unwrap_or_default();
                    match parts {
                        [a, b] if prepends(a) && replaces_spaces(b) => PreTokenizer::Metaspace { prefix: true, squeeze: false },
                        [b] if replaces_spaces(b) => PreTokenizer::Metaspace { prefix: false, squeeze: false },
                        _ => return Err(err(format!("normalizer sequence [{}] is not implemented (known: Prepend(\"\u{2581}\") then Replace(\" \", \"\u{2581}\"))", parts.iter().map(kind).collect::<Vec<_>>().join(", ")))),
                    }
                }
                (None, Some(p)) if kind(p) == "Metaspace" && p.get("replacement").and_then(|v| v.as_str()).is_none_or(|r| r == "\u{2581}") && p.get("split").and_then(|v| v.as_bool()) != Some(true) => {
                    let scheme = p.get("prepend_scheme").and_then(|v| v.as_str());
                    let prefix = match scheme {
                        Some("always") | Some("first") => true,
                        Some("never") => false,
                        _ => p.get("add_prefix_space").and_then(|v| v.as_bool()).unwrap_or(true),
                    };
                    PreTokenizer::Metaspace { prefix, squeeze: false }
                }
                (n, p) => {
                    return Err(err(format!(
                        "a byte-fallback BPE with normalizer `{}` and pre-tokenizer `{}` is not implemented (known: LLaMA's Prepend+Replace normalizers, or a Metaspace pre-tokenizer without split)",
                        n.map(kind).unwrap_or_else(|| "none".into()),
                        p.map(kind).unwrap_or_else(|| "none".into())
                    )))
                }
            }
        } else {
            match json.get("pre_tokenizer") {
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
            }
        };
        let config_path = dir.join("tokenizer_config.json");
        let config: serde_json::Value = match std::fs::read_to_string(&config_path) {
            Ok(t) => serde_json::from_str(&t).map_err(|source| WeightsError::Json { path: config_path.clone(), source })?,
            Err(_) => serde_json::Value::Null,
        };
        // The special tokens are named by content: looked up in the built vocabulary (so every
        // id is one of its tokens).
        // Added tokens that are not special are matched in the text first (as `tokenizers` does);
        // special ones are read as plain text, like every special token.
        let mut kinds = vec![PieceKind::Normal; tokens.len()];
        for (id, special) in added_special {
            kinds[id as usize] = if special { PieceKind::Control } else { PieceKind::UserDefined };
        }
        let mut tokenizer = Self::build(path.clone(), tokens, &merges, pre, SpecialTokens::default(), false, None, Some(kinds))?;
        if byte_fallback {
            // Byte pieces decode to their byte.
            for (i, t) in tokenizer.tokens.iter().enumerate() {
                if byte_piece(t).is_some() {
                    tokenizer.kinds[i] = PieceKind::Byte;
                }
            }
        }
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

    /// A token's kind (all [`PieceKind::Normal`] in a byte-level vocabulary).
    pub fn kind(&self, id: u32) -> Option<PieceKind> {
        self.kinds.get(id as usize).copied()
    }

    /// A token's SentencePiece score, where the tokenizer merges by score.
    pub fn score(&self, id: u32) -> Option<f32> {
        self.scores.as_ref()?.get(id as usize).copied()
    }

    /// The pieces the pre-tokenizer splits `text` into (they concatenate to `text`; a
    /// SentencePiece tokenizer keeps the text whole).
    pub fn pre_tokenize<'t>(&self, text: &'t str) -> Result<Vec<&'t str>> {
        let mut fragments = Vec::new();
        match self.pre {
            PreTokenizer::Metaspace { .. } => return Ok(vec![text]),
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

    /// SentencePiece BPE of a whole text (the module's documentation).
    fn encode_metaspace(&self, text: &str, prefix: bool, squeeze: bool) -> Result<Vec<u32>> {
        const NONE: usize = usize::MAX;
        let squeezed;
        let text = if squeeze {
            squeezed = text.split(' ').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
            squeezed.as_str()
        } else {
            text
        };
        if text.is_empty() {
            return Ok(vec![]);
        }
        let mut norm = String::with_capacity(text.len() + 3);
        if prefix {
            norm.push('\u{2581}');
        }
        norm.extend(text.chars().map(|c| if c == ' ' { '\u{2581}' } else { c }));
        // Symbols: byte ranges of `norm`, linked left to right; user-defined ones are frozen.
        struct Sym {
            start: usize,
            end: usize,
            id: Option<u32>,
            frozen: bool,
        }
        let makes = |id: u32, kinds: &[PieceKind]| matches!(kinds[id as usize], PieceKind::Normal | PieceKind::UserDefined);
        let mut syms: Vec<Sym> = Vec::with_capacity(norm.len());
        let mut at = 0;
        while at < norm.len() {
            let rest = &norm[at..];
            if let Some((piece, id)) = self.user_defined.iter().find(|(p, _)| rest.starts_with(p.as_str())) {
                syms.push(Sym { start: at, end: at + piece.len(), id: Some(*id), frozen: true });
                at += piece.len();
                continue;
            }
            let len = rest.chars().next().map_or(1, char::len_utf8);
            let id = self.vocab.get(&rest[..len]).copied().filter(|&i| makes(i, &self.kinds));
            syms.push(Sym { start: at, end: at + len, id, frozen: false });
            at += len;
        }
        let n = syms.len();
        let mut prev: Vec<usize> = (0..n).map(|i| if i == 0 { NONE } else { i - 1 }).collect();
        let mut next: Vec<usize> = (0..n).map(|i| if i + 1 == n { NONE } else { i + 1 }).collect();
        let mut alive = vec![true; n];
        // Candidates: the best priority first (a higher score, or an earlier rule), then the
        // leftmost; stale ones (a side merged since) are skipped when popped.
        #[derive(PartialEq)]
        struct Cand {
            priority: f64,
            left: usize,
            right: usize,
            len: usize,
            id: u32,
        }
        impl Eq for Cand {}
        impl Ord for Cand {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                self.priority.total_cmp(&o.priority).then(o.left.cmp(&self.left))
            }
        }
        impl PartialOrd for Cand {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        let candidate = |syms: &[Sym], l: usize, r: usize| -> Option<Cand> {
            let (a, b) = (&syms[l], &syms[r]);
            if a.frozen || b.frozen {
                return None;
            }
            let (priority, id) = match &self.scores {
                Some(scores) => {
                    let id = *self.vocab.get(&norm[a.start..b.end])?;
                    (self.kinds[id as usize] == PieceKind::Normal).then_some((scores[id as usize] as f64, id))?
                }
                None => {
                    let &(rank, id) = self.merges.get(&(a.id?, b.id?))?;
                    (-(rank as f64), id)
                }
            };
            Some(Cand { priority, left: l, right: r, len: b.end - a.start, id })
        };
        let mut heap = std::collections::BinaryHeap::new();
        for i in 1..n {
            heap.extend(candidate(&syms, i - 1, i));
        }
        while let Some(c) = heap.pop() {
            if !alive[c.left] || !alive[c.right] || next[c.left] != c.right || syms[c.right].end - syms[c.left].start != c.len {
                continue;
            }
            syms[c.left].end = syms[c.right].end;
            syms[c.left].id = Some(c.id);
            alive[c.right] = false;
            next[c.left] = next[c.right];
            if next[c.left] != NONE {
                prev[next[c.left]] = c.left;
            }
            if prev[c.left] != NONE {
                heap.extend(candidate(&syms, prev[c.left], c.left));
            }
            if next[c.left] != NONE {
                heap.extend(candidate(&syms, c.left, next[c.left]));
            }
        }
        let mut out = Vec::with_capacity(n);
        let mut i = if n == 0 { NONE } else { 0 };
        let mut last_unknown = false;
        while i != NONE {
            let sym = &syms[i];
            match sym.id {
                Some(id) => {
                    out.push(id);
                    last_unknown = false;
                }
                None => {
                    for &b in norm[sym.start..sym.end].as_bytes() {
                        match (self.byte_ids[b as usize], self.special.unk) {
                            (Some(id), _) => {
                                out.push(id);
                                last_unknown = false;
                            }
                            // A run of unknown characters is one unknown piece.
                            (None, Some(unk)) => {
                                if !last_unknown {
                                    out.push(unk);
                                }
                                last_unknown = true;
                                break;
                            }
                            (None, None) => {
                                return Err(WeightsError::Tokenizer {
                                    path: self.path.clone(),
                                    what: format!("`{}` is not in the vocabulary, which has neither byte pieces nor an unknown piece", &norm[sym.start..sym.end]),
                                })
                            }
                        }
                    }
                }
            }
            i = next[i];
        }
        Ok(out)
    }

    /// `text` split at its user-defined tokens, llama.cpp's way: the longest tokens first
    /// (then the lower id), each at every occurrence, left to right, in what is still text.
    fn partition<'t>(&self, text: &'t str) -> Vec<std::result::Result<&'t str, u32>> {
        let mut parts = vec![Ok(text)];
        for (token, id) in &self.user_defined {
            if !parts.iter().any(|p| p.is_ok_and(|t| t.contains(token.as_str()))) {
                continue;
            }
            let mut next = Vec::with_capacity(parts.len() + 2);
            for part in parts {
                let Ok(t) = part else {
                    next.push(part);
                    continue;
                };
                let mut at = 0;
                for (i, m) in t.match_indices(token.as_str()) {
                    if i > at {
                        next.push(Ok(&t[at..i]));
                    }
                    next.push(Err(*id));
                    at = i + m.len();
                }
                if at < t.len() {
                    next.push(Ok(&t[at..]));
                }
            }
            parts = next;
        }
        parts
    }

    /// Token ids of `text`, without BOS.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        if let PreTokenizer::Metaspace { prefix, squeeze } = self.pre {
            return self.encode_metaspace(text, prefix, squeeze);
        }
        let mut out = Vec::with_capacity(text.len() / 3);
        let mut cache: HashMap<&str, (usize, usize)> = HashMap::new();
        for part in self.partition(text) {
            let part = match part {
                Ok(t) => t,
                Err(id) => {
                    out.push(id);
                    continue;
                }
            };
            for piece in self.pre_tokenize(part)? {
                if let Some(&(s, e)) = cache.get(piece) {
                    out.extend_from_within(s..e);
                    continue;
                }
                let s = out.len();
                self.encode_piece(piece, &mut out)?;
                cache.insert(piece, (s, out.len()));
            }
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

    /// The bytes of a token sequence. Byte-level: every token rendered, special ones as their
    /// text. SentencePiece: `▁` as a space, byte pieces as their byte, control pieces as
    /// nothing, and the prepended space (when the tokenizer adds one) taken off the start.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            let t = self.token(id).ok_or_else(|| WeightsError::Tokenizer {
                path: self.path.clone(),
                what: format!("token id {id} is beyond the {} tokens", self.tokens.len()),
            })?;
            if let PreTokenizer::Metaspace { .. } = self.pre {
                match (self.kinds[id as usize], byte_piece(t)) {
                    (PieceKind::Byte, Some(b)) => out.push(b),
                    (PieceKind::Control, _) => {}
                    _ => out.extend_from_slice(t.replace('\u{2581}', " ").as_bytes()),
                }
                continue;
            }
            if self.kinds[id as usize] == PieceKind::UserDefined {
                out.extend_from_slice(t.as_bytes());
                continue;
            }
            for c in t.chars() {
                match self.char_to_byte.get(&c) {
                    Some(&b) => out.push(b),
                    None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                }
            }
        }
        if let PreTokenizer::Metaspace { prefix: true, .. } = self.pre {
            if out.first() == Some(&b' ') {
                out.remove(0);
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
