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
//!
//! A document whose text alone costs more than the budget is held by
//! [`Holding`] from the batch that loads it until a batch needs another
//! such document: every step of the stage needs it, and reading and
//! normalising it again for each (a 300 MB one-line page takes seconds)
//! would cost more than holding it, which its own batch does anyway. So
//! the stage holds at most the budget plus the large documents of one
//! batch.

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
    /// The texts of `docs` (sorted, distinct), in their order.
    ///
    /// # Errors
    ///
    /// A text that cannot be read again.
    fn read(&self, docs: &[u32]) -> Result<Vec<NormText>>;
    /// Calls `f` with the texts of `docs` (sorted, distinct).
    ///
    /// # Errors
    ///
    /// A text that cannot be read again.
    fn with_texts(&self, docs: &[u32], f: &mut dyn FnMut(&dyn NormTexts)) -> Result<()> {
        let texts = self.read(docs)?;
        f(&Loaded {
            ids: docs.to_vec(),
            texts,
        });
        Ok(())
    }
    /// `n` more documents went through the one step that reads each once
    /// (fingerprints): what a progress bar of the stage can show.
    fn read_through(&self, _n: usize) {}
    /// Whether every text is in memory already (every cost 0): then all
    /// items are one batch, cut without looking at their documents.
    fn in_memory(&self) -> bool {
        false
    }
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
    fn read(&self, docs: &[u32]) -> Result<Vec<NormText>> {
        Ok(docs.iter().map(|&d| self.0[d as usize].clone()).collect())
    }
    fn with_texts(&self, _: &[u32], f: &mut dyn FnMut(&dyn NormTexts)) -> Result<()> {
        f(self);
        Ok(())
    }
    fn in_memory(&self) -> bool {
        true
    }
}

/// A [`TextSource`] that holds each document costing more than `budget`
/// (module docs) from the batch that needs it until a batch needs another
/// one. Held, it costs a batch nothing, so the rest of the batch is filled
/// up to the budget beside it; not held, its cost ends the batch before it.
pub struct Holding<'s> {
    inner: &'s dyn TextSource,
    budget: usize,
    /// The held texts, locked while a batch runs.
    held: std::sync::Mutex<Vec<(u32, NormText)>>,
    /// Their documents, for [`TextSource::cost`] while batches are cut.
    held_ids: std::sync::Mutex<Vec<u32>>,
}

impl<'s> Holding<'s> {
    /// `inner`'s texts, its documents costing more than `budget` held.
    pub fn new(inner: &'s dyn TextSource, budget: usize) -> Self {
        Holding {
            inner,
            budget,
            held: std::sync::Mutex::new(Vec::new()),
            held_ids: std::sync::Mutex::new(Vec::new()),
        }
    }

    fn large(&self, doc: u32) -> bool {
        self.inner.cost(doc) > self.budget
    }
}

impl TextSource for Holding<'_> {
    fn docs(&self) -> usize {
        self.inner.docs()
    }
    fn chars(&self, doc: u32) -> usize {
        self.inner.chars(doc)
    }
    fn cost(&self, doc: u32) -> usize {
        let held = || lock(&self.held_ids).contains(&doc);
        if self.large(doc) && held() {
            0
        } else {
            self.inner.cost(doc)
        }
    }
    fn read(&self, docs: &[u32]) -> Result<Vec<NormText>> {
        self.inner.read(docs)
    }
    fn with_texts(&self, docs: &[u32], f: &mut dyn FnMut(&dyn NormTexts)) -> Result<()> {
        let (large, small): (Vec<u32>, Vec<u32>) = docs.iter().partition(|&&d| self.large(d));
        let mut held = lock(&self.held);
        let missing: Vec<u32> = large
            .iter()
            .copied()
            .filter(|d| !held.iter().any(|(h, _)| h == d))
            .collect();
        if !missing.is_empty() {
            // the ones this batch does not need go before the new ones come
            held.retain(|(h, _)| large.contains(h));
            let texts = self.inner.read(&missing)?;
            held.extend(missing.into_iter().zip(texts));
            *lock(&self.held_ids) = held.iter().map(|(h, _)| *h).collect();
        }
        if small.is_empty() {
            f(&WithHeld {
                held: &held,
                rest: &Loaded::default(),
            });
            return Ok(());
        }
        self.inner.with_texts(&small, &mut |rest| {
            f(&WithHeld { held: &held, rest });
        })
    }
    fn read_through(&self, n: usize) {
        self.inner.read_through(n);
    }
}

/// Batches come one after another, so a lock is never contended; a
/// panic in a batch leaves nothing half-changed that matters.
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The texts of one batch of [`Holding`]: its large documents, held, and
/// the others, loaded for the batch.
struct WithHeld<'a> {
    held: &'a [(u32, NormText)],
    rest: &'a dyn NormTexts,
}

impl NormTexts for WithHeld<'_> {
    fn get(&self, doc: u32) -> &NormText {
        match self.held.iter().find(|(h, _)| *h == doc) {
            Some((_, t)) => t,
            None => self.rest.get(doc),
        }
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
    if src.in_memory() {
        // what the cut below gives when nothing costs anything, without
        // its pass over every item's documents on one thread (a quarter
        // of a million items on the star path of a boilerplate corpus)
        if items.is_empty() {
            return Ok(());
        }
        let mut res = Ok(());
        src.with_texts(&[], &mut |texts| res = g(texts, items))?;
        return res;
    }
    crate::util::batches_by_cost(
        items,
        budget,
        docs_of,
        |d| src.cost(d),
        |batch, ids| {
            let mut res = Ok(());
            src.with_texts(ids, &mut |texts| res = g(texts, batch))?;
            res
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Texts `"文{i}"`, loaded on demand, remembering each load; each
    /// costs 10, those of `large` 100.
    struct Counting {
        texts: Vec<NormText>,
        large: &'static [u32],
        batches: Mutex<Vec<Vec<u32>>>,
    }

    impl Counting {
        fn new(n: usize, large: &'static [u32]) -> Counting {
            let texts = (0..n)
                .map(|i| crate::normalize::normalize(&format!("文{i}"), &Default::default()))
                .collect();
            Counting {
                texts,
                large,
                batches: Mutex::new(Vec::new()),
            }
        }

        fn loads(&self) -> Vec<Vec<u32>> {
            self.batches.lock().map(|b| b.clone()).unwrap_or_default()
        }
    }

    impl TextSource for Counting {
        fn docs(&self) -> usize {
            self.texts.len()
        }
        fn chars(&self, doc: u32) -> usize {
            self.texts[doc as usize].len()
        }
        fn cost(&self, doc: u32) -> usize {
            if self.large.contains(&doc) {
                100
            } else {
                10
            }
        }
        fn read(&self, docs: &[u32]) -> Result<Vec<NormText>> {
            if let Ok(mut b) = self.batches.lock() {
                b.push(docs.to_vec());
            }
            Ok(docs
                .iter()
                .map(|&d| self.texts[d as usize].clone())
                .collect())
        }
    }

    /// The two texts of each item, joined.
    fn joined(src: &dyn TextSource, items: &[(u32, u32)], budget: usize) -> Vec<String> {
        in_batches(
            src,
            items,
            budget,
            |&(a, b), v| v.extend([a, b]),
            |t, &(a, b)| t.get(a).chars.iter().chain(&t.get(b).chars).collect(),
        )
        .unwrap_or_default()
    }

    #[test]
    fn batches_stay_within_the_budget_and_results_keep_item_order() {
        let src = Counting::new(6, &[]);
        let items: Vec<(u32, u32)> = vec![(0, 1), (1, 2), (3, 4), (4, 5), (0, 5)];
        let got = joined(&src, &items, 30);
        assert_eq!(got, vec!["文0文1", "文1文2", "文3文4", "文4文5", "文0文5"]);
        // three documents (cost 30) at most per batch
        assert_eq!(src.loads(), vec![vec![0, 1, 2], vec![3, 4, 5], vec![0, 5]]);
    }

    #[test]
    fn items_that_need_only_loaded_documents_join_a_batch_already_over_budget() {
        // document 0 alone passes the budget: the items after the first
        // that name it and nothing new are not a batch each
        let src = Counting::new(3, &[0]);
        let items: Vec<(u32, u32)> = vec![(0, 1), (0, 0), (1, 0), (0, 2)];
        let got = joined(&src, &items, 30);
        assert_eq!(got, vec!["文0文1", "文0文0", "文1文0", "文0文2"]);
        assert_eq!(src.loads(), vec![vec![0, 1], vec![0, 2]]);
    }

    #[test]
    fn a_document_over_the_budget_is_loaded_once_for_every_step_that_needs_it() {
        let inner = Counting::new(6, &[0]);
        let src = Holding::new(&inner, 30);
        let items: Vec<(u32, u32)> = vec![(0, 1), (2, 3), (0, 4), (4, 5), (5, 0)];
        let want = vec!["文0文1", "文2文3", "文0文4", "文4文5", "文5文0"];
        // three steps over the same documents, as the block stage takes them
        for _ in 0..3 {
            assert_eq!(joined(&src, &items, 30), want);
        }
        let loads = inner.loads();
        assert_eq!(loads.iter().filter(|b| b.contains(&0)).count(), 1);
        assert_eq!(loads[0], vec![0]);
        // beside it, the others are batched within the budget
        assert!(loads.iter().all(|b| b.len() <= 3));
    }

    #[test]
    fn a_held_document_goes_when_a_batch_needs_another_large_one() {
        let inner = Counting::new(4, &[0, 1]);
        let src = Holding::new(&inner, 30);
        let items: Vec<(u32, u32)> = vec![(0, 2), (0, 3), (1, 2), (1, 3), (0, 1)];
        let got = joined(&src, &items, 30);
        assert_eq!(got, vec!["文0文2", "文0文3", "文1文2", "文1文3", "文0文1"]);
        // one large document at a time, until an item needs both
        assert_eq!(
            inner.loads(),
            vec![
                vec![0],
                vec![2],
                vec![3],
                vec![1],
                vec![2],
                vec![3],
                vec![0]
            ]
        );
    }
}
