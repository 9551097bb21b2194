//! lpzero's built-in text: a seeded probabilistic grammar over an invented lexicon, so that a
//! benchmark can be built and searched on a fresh machine with no files at all.
//!
//! What it is, exactly:
//! * The lexicon ([`Lexicon::standard`], 472 words, fixed for a given [`VERSION`]): 8
//!   determiners (3 singular-only, 2 plural-only, 3 either), 64 adjectives, 120 nouns in a
//!   singular and a plural form, 60 verbs in a singular and a plural form (the first 30
//!   transitive, the rest intransitive), 12 prepositions, 24 adverbs, and `and`, `that`, `,`,
//!   `.`. The word forms are pseudo-words made of syllables (plural nouns and singular verbs add
//!   an `s`), drawn once from a fixed seed.
//! * The grammar: a paragraph is 3–8 sentences on one of 8 topics; a sentence is `S .` or
//!   `S , and S .`; `S → NP(n) VP(n)` with a number `n` drawn per clause; `NP(n) → Det(n) Adj*
//!   Noun(n) [PP] [that VP(n)]` (0–2 adjectives, a prepositional phrase with probability 0.3 and
//!   a relative clause with probability 0.15, recursion limited to depth 2); `PP → Prep NP(any)`;
//!   `VP(n) → Verb_tr(n) NP(any) | Verb_intr(n) [Adv]`.
//! * The distributions: within a topic, nouns, verbs and adjectives follow a Zipf law (exponent
//!   1.1) over a topic-specific permutation of their class, so the topic, set by earlier words,
//!   predicts later ones. A verb agrees in number with its subject across any prepositional
//!   phrase in between.
//!
//! Learning it rewards what language models need: word frequencies (unigram), local syntax
//! (n-gram), agreement over a distance (attention) and a paragraph-long topic (context). The
//! generator is deterministic in its seed; different seeds give disjoint streams for training,
//! validation and the proxies' minibatch.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// Bumped whenever the lexicon or the grammar changes (part of every cache key).
pub const VERSION: u32 = 1;

const TOPICS: usize = 8;
const N_DET_SG: usize = 3;
const N_DET_PL: usize = 2;
const N_DET_ANY: usize = 3;
const N_ADJ: usize = 64;
const N_NOUN: usize = 120;
const N_VERB: usize = 60;
const N_VERB_TR: usize = 30;
const N_PREP: usize = 12;
const N_ADV: usize = 24;

/// Grammatical number of a clause's subject.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Number {
    Singular,
    Plural,
}

/// The words and their ids: id ranges per word class, in the order the module documentation
/// lists them.
#[derive(Clone, Debug)]
pub struct Lexicon {
    words: Vec<String>,
    index: HashMap<String, u32>,
    det_sg: Vec<u32>,
    det_pl: Vec<u32>,
    adj: Vec<u32>,
    noun_sg: Vec<u32>,
    noun_pl: Vec<u32>,
    verb_sg: Vec<u32>,
    verb_pl: Vec<u32>,
    prep: Vec<u32>,
    adv: Vec<u32>,
    and: u32,
    that: u32,
    comma: u32,
    stop: u32,
}

/// A word the lexicon does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{word}` is not a word of lpzero's built-in lexicon (version {VERSION})")]
pub struct UnknownWord {
    /// The word.
    pub word: String,
}

fn pseudo_word(rng: &mut ChaCha8Rng, syllables: usize) -> String {
    const ONSETS: [&str; 16] = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "tr"];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ai"];
    (0..syllables).map(|_| format!("{}{}", ONSETS[rng.random_range(0..ONSETS.len())], VOWELS[rng.random_range(0..VOWELS.len())])).collect()
}

/// Draws the lexicon's words.
struct Builder {
    rng: ChaCha8Rng,
    words: Vec<String>,
    index: HashMap<String, u32>,
}

impl Builder {
    fn add(&mut self, w: String) -> u32 {
        let id = self.words.len() as u32;
        self.index.insert(w.clone(), id);
        self.words.push(w);
        id
    }

    /// `n` fresh stems of `syllables` syllables (distinct from every word so far and from
    /// their `s` forms).
    fn class(&mut self, n: usize, syllables: usize) -> Vec<u32> {
        (0..n)
            .map(|_| loop {
                let w = pseudo_word(&mut self.rng, syllables);
                let taken = self.index.contains_key(&w) || self.index.contains_key(&format!("{w}s"));
                if !taken && !w.ends_with('s') {
                    break self.add(w);
                }
            })
            .collect()
    }

    /// The `s` forms of words.
    fn with_s(&mut self, ids: &[u32]) -> Vec<u32> {
        ids.iter().map(|&id| {
            let w = format!("{}s", self.words[id as usize]);
            self.add(w)
        }).collect()
    }
}

impl Lexicon {
    /// The lexicon of this version of lpzero.
    pub fn standard() -> Lexicon {
        let mut b = Builder { rng: ChaCha8Rng::seed_from_u64(0x1e71c0), words: vec![], index: HashMap::new() };
        let det_sg = b.class(N_DET_SG, 1);
        let det_pl = b.class(N_DET_PL, 1);
        let det_any = b.class(N_DET_ANY, 1);
        let adj = b.class(N_ADJ, 3);
        let noun_sg = b.class(N_NOUN, 2);
        let noun_pl = b.with_s(&noun_sg);
        let verb_pl = b.class(N_VERB, 2);
        let verb_sg = b.with_s(&verb_pl);
        let prep = b.class(N_PREP, 1);
        let adv = b.class(N_ADV, 4);
        let (and, that, comma, stop) = (b.add("and".into()), b.add("that".into()), b.add(",".into()), b.add(".".into()));
        let det_sg = [det_sg, det_any.clone()].concat();
        let det_pl = [det_pl, det_any].concat();
        Lexicon { words: b.words, index: b.index, det_sg, det_pl, adj, noun_sg, noun_pl, verb_sg, verb_pl, prep, adv, and, that, comma, stop }
    }

    /// Number of words (the vocabulary size a model needs).
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Always false: the lexicon has words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word of an id.
    pub fn word(&self, id: u32) -> &str {
        &self.words[id as usize]
    }

    /// Ids of whitespace-separated words.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, UnknownWord> {
        text.split_whitespace().map(|w| self.index.get(w).copied().ok_or_else(|| UnknownWord { word: w.to_owned() })).collect()
    }

    /// Text of ids: words separated by spaces, a line break after each paragraph's last `.`
    /// (marked by `breaks`, token positions after which a paragraph ends).
    pub fn render(&self, ids: &[u32], breaks: &[usize]) -> String {
        let mut out = String::with_capacity(ids.len() * 6);
        let mut next_break = breaks.iter().peekable();
        for (i, &id) in ids.iter().enumerate() {
            out.push_str(self.word(id));
            if next_break.peek().is_some_and(|&&b| b == i + 1) {
                next_break.next();
                out.push('\n');
            } else if i + 1 < ids.len() {
                out.push(' ');
            }
        }
        out
    }
}

/// Zipf weights `1 / (r + 1)^1.1` for ranks `0..n`, as a cumulative table.
fn zipf_cdf(n: usize) -> Vec<f64> {
    let mut acc = 0.0;
    (0..n)
        .map(|r| {
            acc += 1.0 / ((r + 1) as f64).powf(1.1);
            acc
        })
        .collect()
}

fn draw(cdf: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let u = rng.random::<f64>() * cdf[cdf.len() - 1];
    cdf.partition_point(|&c| c < u).min(cdf.len() - 1)
}

/// One topic: a permutation of each open class (rank → index into the class).
struct Topic {
    adj: Vec<usize>,
    noun: Vec<usize>,
    verb_tr: Vec<usize>,
    verb_intr: Vec<usize>,
}

fn permutation(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        p.swap(i, rng.random_range(0..=i));
    }
    p
}

/// The generator of one stream.
struct Generator<'a> {
    lex: &'a Lexicon,
    topics: Vec<Topic>,
    cdf: [Vec<f64>; 4],
    rng: ChaCha8Rng,
    out: Vec<u32>,
}

impl Generator<'_> {
    fn noun(&mut self, topic: usize, n: Number) -> u32 {
        let i = self.topics[topic].noun[draw(&self.cdf[1], &mut self.rng)];
        match n {
            Number::Singular => self.lex.noun_sg[i],
            Number::Plural => self.lex.noun_pl[i],
        }
    }

    fn number(&mut self) -> Number {
        if self.rng.random_bool(0.6) {
            Number::Singular
        } else {
            Number::Plural
        }
    }

    fn np(&mut self, topic: usize, n: Number, depth: usize) {
        let dets = match n {
            Number::Singular => &self.lex.det_sg,
            Number::Plural => &self.lex.det_pl,
        };
        let det = dets[self.rng.random_range(0..dets.len())];
        self.out.push(det);
        let adjectives = if self.rng.random_bool(0.45) { 1 + usize::from(self.rng.random_bool(0.3)) } else { 0 };
        for _ in 0..adjectives {
            let a = self.topics[topic].adj[draw(&self.cdf[0], &mut self.rng)];
            self.out.push(self.lex.adj[a]);
        }
        let noun = self.noun(topic, n);
        self.out.push(noun);
        if depth < 2 && self.rng.random_bool(0.3) {
            let p = self.lex.prep[self.rng.random_range(0..self.lex.prep.len())];
            self.out.push(p);
            let inner = self.number();
            self.np(topic, inner, depth + 1);
        }
        if depth < 2 && self.rng.random_bool(0.15) {
            self.out.push(self.lex.that);
            self.vp(topic, n, depth + 1);
        }
    }

    fn vp(&mut self, topic: usize, n: Number, depth: usize) {
        let transitive = self.rng.random_bool(0.6);
        let (ranks, cdf) = if transitive { (&self.topics[topic].verb_tr, &self.cdf[2]) } else { (&self.topics[topic].verb_intr, &self.cdf[3]) };
        let v = ranks[draw(cdf, &mut self.rng)];
        self.out.push(match n {
            Number::Singular => self.lex.verb_sg[v],
            Number::Plural => self.lex.verb_pl[v],
        });
        if transitive {
            let object = self.number();
            self.np(topic, object, depth);
        } else if self.rng.random_bool(0.4) {
            let a = self.lex.adv[self.rng.random_range(0..self.lex.adv.len())];
            self.out.push(a);
        }
    }

    fn clause(&mut self, topic: usize) {
        let n = self.number();
        self.np(topic, n, 0);
        self.vp(topic, n, 0);
    }
}

/// A generated stream: token ids and the positions after which paragraphs end.
#[derive(Clone, Debug, PartialEq)]
pub struct Stream {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Token counts at each paragraph end.
    pub breaks: Vec<usize>,
}

/// Generates whole paragraphs until at least `min_tokens` tokens, deterministically from `seed`.
/// The topics (the class permutations) are part of the language and fixed for a [`VERSION`];
/// the seed chooses the text.
pub fn generate(lex: &Lexicon, seed: u64, min_tokens: usize) -> Stream {
    let mut topic_rng = ChaCha8Rng::seed_from_u64(0x70_91c5);
    let topics = (0..TOPICS)
        .map(|_| Topic {
            adj: permutation(N_ADJ, &mut topic_rng),
            noun: permutation(N_NOUN, &mut topic_rng),
            verb_tr: permutation(N_VERB_TR, &mut topic_rng),
            verb_intr: permutation(N_VERB - N_VERB_TR, &mut topic_rng).into_iter().map(|i| i + N_VERB_TR).collect(),
        })
        .collect();
    let cdf = [zipf_cdf(N_ADJ), zipf_cdf(N_NOUN), zipf_cdf(N_VERB_TR), zipf_cdf(N_VERB - N_VERB_TR)];
    let mut g = Generator { lex, topics, cdf, rng: ChaCha8Rng::seed_from_u64(seed), out: Vec::with_capacity(min_tokens + 256) };
    let mut breaks = vec![];
    while g.out.len() < min_tokens {
        let topic = g.rng.random_range(0..TOPICS);
        let sentences = g.rng.random_range(3..=8);
        for _ in 0..sentences {
            g.clause(topic);
            if g.rng.random_bool(0.25) {
                g.out.push(lex.comma);
                g.out.push(lex.and);
                g.clause(topic);
            }
            g.out.push(lex.stop);
        }
        breaks.push(g.out.len());
    }
    Stream { ids: g.out, breaks }
}

/// The generated text of `seed` (at least `min_tokens` words), rendered one paragraph per line.
pub fn text(seed: u64, min_tokens: usize) -> String {
    let lex = Lexicon::standard();
    let s = generate(&lex, seed, min_tokens);
    lex.render(&s.ids, &s.breaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_has_the_documented_size_and_unique_words() {
        let lex = Lexicon::standard();
        let expected = N_DET_SG + N_DET_PL + N_DET_ANY + N_ADJ + 2 * N_NOUN + 2 * N_VERB + N_PREP + N_ADV + 4;
        assert_eq!(lex.len(), expected);
        assert_eq!(expected, 472);
        assert_eq!(lex.index.len(), lex.len(), "words are unique");
    }

    #[test]
    fn rendering_and_encoding_round_trip() {
        let lex = Lexicon::standard();
        let s = generate(&lex, 3, 2000);
        assert!(s.ids.len() >= 2000);
        let text = lex.render(&s.ids, &s.breaks);
        assert_eq!(lex.encode(&text).unwrap(), s.ids);
        assert_eq!(text.lines().count(), s.breaks.len());
        assert!(lex.encode("zzqx").is_err());
    }

    #[test]
    fn deterministic_in_the_seed_and_different_across_seeds() {
        let lex = Lexicon::standard();
        assert_eq!(generate(&lex, 5, 500), generate(&lex, 5, 500));
        assert_ne!(generate(&lex, 5, 500).ids, generate(&lex, 6, 500).ids);
    }

    #[test]
    fn verbs_agree_with_their_subjects() {
        // Every sentence starts with a subject determiner; its number fixes the first verb's.
        let lex = Lexicon::standard();
        let s = generate(&lex, 11, 5000);
        let mut sentence_start = true;
        let mut subject: Option<bool> = None; // Some(true) = singular
        let mut checked = 0;
        for &id in &s.ids {
            if sentence_start {
                let sg_only = lex.det_sg[..N_DET_SG].contains(&id);
                let pl_only = lex.det_pl[..N_DET_PL].contains(&id);
                subject = if sg_only { Some(true) } else if pl_only { Some(false) } else { None };
                sentence_start = false;
                continue;
            }
            if let Some(sg) = subject {
                if lex.verb_sg.contains(&id) || lex.verb_pl.contains(&id) {
                    // The first verb after the subject noun phrase (relative clauses agree too).
                    assert_eq!(lex.verb_sg.contains(&id), sg);
                    checked += 1;
                    subject = None;
                }
            }
            if id == lex.that {
                subject = None; // a relative clause may hang on an inner noun
            }
            if id == lex.stop || id == lex.and {
                sentence_start = true;
            }
        }
        assert!(checked > 100);
    }
}
