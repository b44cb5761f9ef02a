//! TEXTS: where the block stage gets normalised texts from, a bounded batch
//! at a time.
//!
//! The block stage never needs every text at once: fingerprints are taken
//! document by document, and each later step (verifying a chain, aligning a
//! passage occurrence to its parent, splitting, unchaining) needs the texts
//! of a few documents. [`TextSource`] gives texts for a sorted list of
//! documents; [`in_batches`] walks a list of work items in order, gathers
//! the documents they need until the next one would pass the budget, loads
//! those texts, runs the items of the batch in parallel and drops the texts.
//!
//! A corpus held in memory is one batch (a slice of [`NormText`]s costs
//! nothing to "load"); a corpus read from files re-reads and normalises the
//! texts of each batch, so memory is bounded by the budget, whatever the
//! corpus size, and with a budget larger than the corpus every text is
//! loaded once. Results come back in the order of the items, so they do not
//! depend on the batches or the thread count.

use rayon::prelude::*;

use crate::error::Result;
use crate::normalize::NormText;

/// Normalised texts by document index (the index into the block stage's
/// list of documents).
pub trait NormTexts: Sync {
    /// The text of `doc`; only documents of the current batch are asked for.
    fn get(&self, doc: u32) -> &NormText;
}

/// Texts held in memory, by document index: one batch of everything.
#[derive(Debug, Clone, Copy)]
pub struct InMemory<'a>(pub &'a [&'a NormText]);

impl NormTexts for InMemory<'_> {
    fn get(&self, doc: u32) -> &NormText {
        self.0[doc as usize]
    }
}

/// Where the block stage's texts come from.
pub trait TextSource: Sync {
    /// Number of documents.
    fn docs(&self) -> usize;
    /// Normalised characters of `doc`, or more (never fewer).
    fn chars(&self, doc: u32) -> usize;
    /// Bytes that loading `doc` costs (an estimate; 0 for texts already in
    /// memory, which makes everything one batch).
    fn cost(&self, doc: u32) -> usize;
    /// Calls `f` with the texts of `docs` (sorted, distinct).
    ///
    /// # Errors
    ///
    /// A text that cannot be read again.
    fn with_texts(&self, docs: &[u32], f: &mut dyn FnMut(&dyn NormTexts)) -> Result<()>;
    /// `n` more documents went through the one step that reads each once
    /// (fingerprints): what a progress bar of the stage can show.
    fn read_through(&self, _n: usize) {}
}

impl TextSource for InMemory<'_> {
    fn docs(&self) -> usize {
        self.0.len()
    }
    fn chars(&self, doc: u32) -> usize {
        self.0[doc as usize].len()
    }
    fn cost(&self, _: u32) -> usize {
        0
    }
    fn with_texts(&self, _: &[u32], f: &mut dyn FnMut(&dyn NormTexts)) -> Result<()> {
        f(self);
        Ok(())
    }
}

/// Texts loaded for one batch: `ids` sorted, `texts[i]` the text of `ids[i]`.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The documents, sorted.
    pub ids: Vec<u32>,
    /// Their texts.
    pub texts: Vec<NormText>,
}

impl NormTexts for Loaded {
    fn get(&self, doc: u32) -> &NormText {
        match self.ids.binary_search(&doc) {
            Ok(i) => &self.texts[i],
            // a step asked for a document it did not declare: a bug, but
            // an empty text only makes it find nothing there
            Err(_) => &EMPTY,
        }
    }
}

static EMPTY: NormText = NormText {
    chars: Vec::new(),
    orig: Vec::new(),
    gap_before: Vec::new(),
};

/// Runs `f` on every item, a batch of items at a time: a batch holds the
/// texts of the documents its items name (`docs_of` pushes them) and ends
/// before their cost would pass `budget` (an item alone may pass it).
/// Results come in item order.
///
/// # Errors
///
/// A text that cannot be read again.
pub fn in_batches<T, R, D, F>(
    src: &dyn TextSource,
    items: &[T],
    budget: usize,
    docs_of: D,
    f: F,
) -> Result<Vec<R>>
where
    T: Sync,
    R: Send,
    D: Fn(&T, &mut Vec<u32>),
    F: Fn(&dyn NormTexts, &T) -> R + Sync,
{
    let mut out = Vec::with_capacity(items.len());
    each_batch(src, items, budget, docs_of, |texts, batch| {
        out.par_extend(batch.par_iter().map(|it| f(texts, it)));
        Ok(())
    })?;
    Ok(out)
}

/// Calls `g` on consecutive batches of `items` with the texts they need,
/// as [`in_batches`] cuts them.
///
/// # Errors
///
/// A text that cannot be read again, or `g`'s error.
pub fn each_batch<T, D, G>(
    src: &dyn TextSource,
    items: &[T],
    budget: usize,
    docs_of: D,
    mut g: G,
) -> Result<()>
where
    D: Fn(&T, &mut Vec<u32>),
    G: FnMut(&dyn NormTexts, &[T]) -> Result<()>,
{
    let mut seen = std::collections::HashSet::new();
    let mut ids: Vec<u32> = Vec::new();
    let mut mine: Vec<u32> = Vec::new();
    let mut start = 0;
    let mut cost = 0usize;
    let mut flush = |batch: &[T], ids: &mut Vec<u32>| -> Result<()> {
        ids.sort_unstable();
        let mut res = Ok(());
        src.with_texts(ids, &mut |texts| res = g(texts, batch))?;
        ids.clear();
        res
    };
    for (i, item) in items.iter().enumerate() {
        mine.clear();
        docs_of(item, &mut mine);
        let extra: usize = mine
            .iter()
            .filter(|d| !seen.contains(*d))
            .map(|&d| src.cost(d))
            .sum();
        if i > start && cost + extra > budget {
            flush(&items[start..i], &mut ids)?;
            seen.clear();
            start = i;
            cost = 0;
        }
        for &d in &mine {
            if seen.insert(d) {
                ids.push(d);
                cost += src.cost(d);
            }
        }
    }
    if start < items.len() {
        flush(&items[start..], &mut ids)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Texts `"文{i}"`, loaded on demand, remembering each batch.
    struct Counting {
        texts: Vec<NormText>,
        batches: Mutex<Vec<Vec<u32>>>,
    }

    impl TextSource for Counting {
        fn docs(&self) -> usize {
            self.texts.len()
        }
        fn chars(&self, doc: u32) -> usize {
            self.texts[doc as usize].len()
        }
        fn cost(&self, _: u32) -> usize {
            10
        }
        fn with_texts(&self, docs: &[u32], f: &mut dyn FnMut(&dyn NormTexts)) -> Result<()> {
            if let Ok(mut b) = self.batches.lock() {
                b.push(docs.to_vec());
            }
            let loaded = Loaded {
                ids: docs.to_vec(),
                texts: docs
                    .iter()
                    .map(|&d| self.texts[d as usize].clone())
                    .collect(),
            };
            f(&loaded);
            Ok(())
        }
    }

    #[test]
    fn batches_stay_within_the_budget_and_results_keep_item_order() {
        let texts: Vec<NormText> = (0..6)
            .map(|i| crate::normalize::normalize(&format!("文{i}"), &Default::default()))
            .collect();
        let src = Counting {
            texts,
            batches: Mutex::new(Vec::new()),
        };
        let items: Vec<(u32, u32)> = vec![(0, 1), (1, 2), (3, 4), (4, 5), (0, 5)];
        let got = in_batches(
            &src,
            &items,
            30,
            |&(a, b), v| v.extend([a, b]),
            |t, &(a, b)| {
                let s: String = t.get(a).chars.iter().chain(&t.get(b).chars).collect();
                s
            },
        )
        .unwrap_or_default();
        assert_eq!(got, vec!["文0文1", "文1文2", "文3文4", "文4文5", "文0文5"]);
        let batches = src.batches.lock().map(|b| b.clone()).unwrap_or_default();
        // three documents (cost 30) at most per batch
        assert_eq!(batches, vec![vec![0, 1, 2], vec![3, 4, 5], vec![0, 5]]);
    }
}
