//! Which of a log's rows to draw: those in view and a margin around them. A chatty run's log
//! holds a thousand lines; drawing every one made each redraw build a thousand elements (frame
//! gaps of 0.3 s, docs/perf.md "Studio log view"), while the reader sees fifty.
//!
//! Rows are all `ROW_PX` high: the log does not wrap lines (it scrolls sideways), so a row's
//! place is its index times the height, and the rows not drawn are two blank boxes.

use std::ops::Range;

/// One row's height in CSS pixels: the `line-height` of `.log pre` in style.css (keep equal).
pub(super) const ROW_PX: i32 = 18;

/// Rows drawn above and below those in view, so a short scroll never shows a blank.
pub(super) const MARGIN_ROWS: usize = 30;

/// The view's height before the log has been measured: a tall window's.
pub(super) const UNMEASURED_PX: i32 = 1200;

/// The rows to draw of `total`, for a view `height` px high scrolled `top` px down.
pub(super) fn rows(total: usize, top: i32, height: i32) -> Range<usize> {
    let row = ROW_PX as usize;
    let first = top.max(0) as usize / row;
    let in_view = (height.max(0) as usize).div_ceil(row) + 1;
    let end = (first + in_view + MARGIN_ROWS).min(total);
    first.saturating_sub(MARGIN_ROWS).min(end)..end
}

/// The scroll offset that shows the end of `total` rows in a view `height` px high.
pub(super) fn end_top(total: usize, height: i32) -> i32 {
    (total as i32).saturating_mul(ROW_PX).saturating_sub(height).max(0)
}

/// The scroll offset that puts row `i` in the middle of a view `height` px high.
pub(super) fn centred_top(i: usize, height: i32) -> i32 {
    (i as i32).saturating_mul(ROW_PX).saturating_sub(height / 2).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_in_view_and_a_margin_are_drawn_and_never_more_than_there_are() {
        // 50 rows in a 900 px view at the top: 0..(51 + margin).
        assert_eq!(rows(1000, 0, 900), 0..51 + MARGIN_ROWS);
        // Scrolled to row 500: the margin above too.
        assert_eq!(rows(1000, 500 * ROW_PX, 900), 500 - MARGIN_ROWS..551 + MARGIN_ROWS);
        // At the end.
        assert_eq!(rows(1000, end_top(1000, 900), 900), 950 - MARGIN_ROWS..1000);
        // Fewer rows than the view holds, and nothing at all.
        assert_eq!(rows(10, 0, 900), 0..10);
        assert_eq!(rows(0, 0, 900), 0..0);
        // Scrolled past the end (the log was replaced by a shorter one): nothing out of range.
        assert_eq!(rows(10, 100_000, 900), 10..10);
    }

    #[test]
    fn tops_for_the_end_and_for_a_row_in_the_middle() {
        assert_eq!(end_top(10, 900), 0);
        assert_eq!(end_top(1000, 900), 1000 * ROW_PX - 900);
        assert_eq!(centred_top(0, 900), 0);
        assert_eq!(centred_top(500, 900), 500 * ROW_PX - 450);
    }
}
