//! HUNKS: the aligned stretches of a two-text diff → rows of lines side by
//! side, which every diff view renders (difftastic's hunks: computed once,
//! only styled by the renderers).
//!
//! Takes the two source texts, the line number each starts on, and the
//! [`Stretch`]es of their diff ([`crate::variants`] computes them, in source
//! bytes); gives a [`Split`]: rows that pair a line of the first text with a
//! line of the second, each line cut into changed and unchanged segments,
//! with the line numbers of the original files. The HTML views show the rows
//! side by side; the terminal prints the same rows as a unified diff with
//! context ([`Split::hunks`], like `diff -U`).
//!
//! Rows are aligned where an unchanged stretch ends a line in both texts;
//! between two such points, the lines each text has are paired in order
//! (a text with fewer lines there gets empty cells). Texts that differ only
//! in layout (re-wrapped, as normalisation allows) have unchanged rows whose
//! lines break in different places; they are not changes.

use serde::Serialize;
use std::ops::Range;

/// A stretch of a two-text diff: byte ranges of the first (`a`) and second
/// (`b`) text that are the same after normalisation, or that differ. The
/// stretches of a diff tile both texts, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stretch {
    /// True where the texts differ.
    pub changed: bool,
    /// Bytes of the first text.
    pub a: Range<usize>,
    /// Bytes of the second text.
    pub b: Range<usize>,
}

/// A piece of a line, changed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seg {
    /// Part of a change.
    pub changed: bool,
    /// The text, without line breaks.
    pub text: String,
}

/// A line of one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Line number in the original file (1-based).
    pub number: u64,
    /// The line's text in pieces.
    pub segs: Vec<Seg>,
}

impl Line {
    fn new(number: u64) -> Line {
        Line {
            number,
            segs: Vec::new(),
        }
    }

    /// True when some piece of the line is changed.
    pub fn changed(&self) -> bool {
        self.segs.iter().any(|s| s.changed)
    }

    /// The whole line.
    pub fn text(&self) -> String {
        self.segs.iter().map(|s| s.text.as_str()).collect()
    }
}

/// A line of the first text beside a line of the second; one side is
/// empty where a text has fewer lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The first text's line.
    pub left: Option<Line>,
    /// The second text's line.
    pub right: Option<Line>,
}

impl Row {
    /// True when either line holds a change.
    pub fn changed(&self) -> bool {
        self.left.as_ref().is_some_and(Line::changed)
            || self.right.as_ref().is_some_and(Line::changed)
    }
}

/// Two texts side by side, in aligned rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Split {
    /// The rows, in order.
    pub rows: Vec<Row>,
    /// Number of changes: runs of consecutive changed rows.
    pub changes: usize,
}

impl Split {
    /// Aligns `a` (starting on line `first[0]` of its file) and `b`
    /// (starting on `first[1]`) along `stretches`, which tile both texts.
    pub fn build(a: &str, b: &str, first: [u64; 2], stretches: &[Stretch]) -> Split {
        let mut w = Builder {
            rows: Vec::new(),
            pending: [Vec::new(), Vec::new()],
            cur: [Line::new(first[0]), Line::new(first[1])],
        };
        for s in stretches {
            let ta = a.get(s.a.clone()).unwrap_or("");
            let tb = b.get(s.b.clone()).unwrap_or("");
            if s.changed {
                w.push(0, ta, true);
                w.push(1, tb, true);
                continue;
            }
            w.push_equal(ta, tb);
        }
        for side in 0..2 {
            if !w.cur[side].segs.is_empty() {
                w.end_line(side);
            }
        }
        w.flush();
        let mut changes = 0;
        let mut before = false;
        for r in &w.rows {
            let c = r.changed();
            changes += usize::from(c && !before);
            before = c;
        }
        Split {
            rows: w.rows,
            changes,
        }
    }

    /// True when the texts are the same after normalisation.
    pub fn identical(&self) -> bool {
        self.changes == 0
    }

    /// The stretches of rows a view with `context` unchanged rows around
    /// each change shows (`diff -U`); the rows between them are folded.
    /// None when the texts are identical.
    pub fn hunks(&self, context: usize) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            if !r.changed() {
                continue;
            }
            let from = i.saturating_sub(context);
            let to = (i + 1 + context).min(self.rows.len());
            match out.last_mut() {
                Some(last) if last.end >= from => last.end = to,
                _ => out.push(from..to),
            }
        }
        out
    }
}

/// Rows under construction: the line each side is on, and the lines each
/// side has ended since the rows last aligned.
struct Builder {
    rows: Vec<Row>,
    pending: [Vec<Line>; 2],
    cur: [Line; 2],
}

impl Builder {
    /// Adds `text` to `side`, ending a line at each line break.
    fn push(&mut self, side: usize, text: &str, changed: bool) {
        for piece in text.split_inclusive('\n') {
            let body = piece.trim_end_matches('\n').trim_end_matches('\r');
            if !body.is_empty() {
                match self.cur[side].segs.last_mut() {
                    Some(last) if last.changed == changed => last.text.push_str(body),
                    _ => self.cur[side].segs.push(Seg {
                        changed,
                        text: body.to_string(),
                    }),
                }
            }
            if piece.ends_with('\n') {
                self.end_line(side);
            }
        }
    }

    /// Adds an unchanged stretch. The texts are the same after
    /// normalisation but may break lines in other places (re-wrapped): rows
    /// align where both break after the same number of visible characters.
    fn push_equal(&mut self, ta: &str, tb: &str) {
        // (visible characters before the line break, the line with its break)
        let lines = |t: &str| -> Vec<(usize, usize)> {
            let mut seen = 0;
            let mut at = 0;
            let mut out = Vec::new();
            for piece in t.split_inclusive('\n') {
                seen += piece.chars().filter(|c| !c.is_whitespace()).count();
                at += piece.len();
                if piece.ends_with('\n') {
                    out.push((seen, at));
                }
            }
            out
        };
        let (la, lb) = (lines(ta), lines(tb));
        let (mut i, mut j) = (0, 0);
        let (mut fa, mut fb) = (0, 0);
        while i < la.len() || j < lb.len() {
            let ka = la.get(i).map_or(usize::MAX, |x| x.0);
            let kb = lb.get(j).map_or(usize::MAX, |x| x.0);
            if ka <= kb {
                self.push(0, &ta[fa..la[i].1], false);
                fa = la[i].1;
                i += 1;
            }
            if kb <= ka {
                self.push(1, &tb[fb..lb[j].1], false);
                fb = lb[j].1;
                j += 1;
            }
            if ka == kb {
                self.flush();
            }
        }
        self.push(0, &ta[fa..], false);
        self.push(1, &tb[fb..], false);
    }

    fn end_line(&mut self, side: usize) {
        let next = Line::new(self.cur[side].number + 1);
        let line = std::mem::replace(&mut self.cur[side], next);
        self.pending[side].push(line);
    }

    /// Pairs the pending lines of both sides into rows: the first lines
    /// if both open with unchanged text (they start where the rows last
    /// aligned), the last lines if both end with it (they end where the rows
    /// align now), the lines between in order.
    fn flush(&mut self) {
        let [l, r] = std::mem::take(&mut self.pending);
        let (mut l, mut r) = (
            std::collections::VecDeque::from(l),
            std::collections::VecDeque::from(r),
        );
        let opens = |x: Option<&Line>| x.and_then(|x| x.segs.first()).is_some_and(|s| !s.changed);
        let closes = |x: Option<&Line>| x.and_then(|x| x.segs.last()).is_some_and(|s| !s.changed);
        if opens(l.front()) && opens(r.front()) {
            self.rows.push(Row {
                left: l.pop_front(),
                right: r.pop_front(),
            });
        }
        let last = (closes(l.back()) && closes(r.back())).then(|| Row {
            left: l.pop_back(),
            right: r.pop_back(),
        });
        while !l.is_empty() || !r.is_empty() {
            self.rows.push(Row {
                left: l.pop_front(),
                right: r.pop_front(),
            });
        }
        self.rows.extend(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: Range<usize>, b: Range<usize>) -> Stretch {
        Stretch {
            changed: false,
            a,
            b,
        }
    }

    fn ch(a: Range<usize>, b: Range<usize>) -> Stretch {
        Stretch {
            changed: true,
            a,
            b,
        }
    }

    fn side(l: &Option<Line>) -> String {
        l.as_ref()
            .map_or("-".into(), |l| format!("{}:{}", l.number, l.text()))
    }

    /// The split's rows as `NUMBER:TEXT` (or `-`) on each side are `want`.
    fn assert_rows(split: &Split, want: &[(&str, &str)]) {
        let rows: Vec<(String, String)> = split
            .rows
            .iter()
            .map(|r| (side(&r.left), side(&r.right)))
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(l, r)| (l.to_string(), r.to_string()))
            .collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn rows_align_after_inserted_lines_and_keep_file_line_numbers() {
        let a = "one\ntwo\nthree\n";
        let b = "one\nnew\nnewer\ntwo\nthree\n";
        let s = [eq(0..4, 0..4), ch(4..4, 4..14), eq(4..14, 14..24)];
        let split = Split::build(a, b, [10, 1], &s);

        let want = [
            ("10:one", "1:one"),
            ("-", "2:new"),
            ("-", "3:newer"),
            ("11:two", "4:two"),
            ("12:three", "5:three"),
        ];
        assert_rows(&split, &want);
        assert_eq!(split.changes, 1);
        assert_eq!(split.hunks(1), vec![0..4]);
        assert_eq!(split.hunks(0), vec![1..3]);
    }

    #[test]
    fn a_change_inside_a_line_marks_only_its_characters() {
        let (a, b) = ("睢县、柘城县召开会议\n", "XX县召开会议\n");
        let s = [ch(0..18, 0..5), eq(18..31, 5..18)];
        let split = Split::build(a, b, [1, 1], &s);
        assert_eq!(split.rows.len(), 1);
        let right = split.rows[0].right.as_ref().map(|l| l.segs.clone());
        assert_eq!(
            right,
            Some(vec![
                Seg {
                    changed: true,
                    text: "XX县".into()
                },
                Seg {
                    changed: false,
                    text: "召开会议".into()
                },
            ])
        );
        let same = Split::build(a, a, [1, 1], &[eq(0..31, 0..31)]);
        assert!(same.identical() && same.hunks(3).is_empty());
    }

    #[test]
    fn a_line_after_inserted_lines_sits_beside_its_copy() {
        // B opens with two new lines, then A's first line
        let a = "今天我们召开会议\n";
        let b = "同志们：\n昨天我们观摩了\n今天我们召开会议\n";
        let s = [
            ch(0..0, 0..b.len() - a.len()),
            eq(0..a.len(), b.len() - a.len()..b.len()),
        ];
        let split = Split::build(a, b, [3, 45], &s);

        let want = [
            ("-", "45:同志们："),
            ("-", "46:昨天我们观摩了"),
            ("3:今天我们召开会议", "47:今天我们召开会议"),
        ];
        assert_rows(&split, &want);
    }

    #[test]
    fn rewrapped_text_is_not_a_change() {
        let (a, b) = ("今天我们\n召开会议", "今天我们召开会议");
        let s = [eq(0..a.len(), 0..b.len())];
        let split = Split::build(a, b, [1, 1], &s);
        assert!(split.identical());
        assert_eq!(split.rows.len(), 2);
        // where both break after the same text, the rows align again
        let (a, b) = ("一二\n三四\n五六\n七\n", "一二三四\n五六\n七\n");
        let split = Split::build(a, b, [1, 1], &[eq(0..a.len(), 0..b.len())]);

        let want = [
            ("1:一二", "1:一二三四"),
            ("2:三四", "-"),
            ("3:五六", "2:五六"),
            ("4:七", "3:七"),
        ];
        assert_rows(&split, &want);
    }
}
