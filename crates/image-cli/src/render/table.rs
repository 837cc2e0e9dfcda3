//! Column alignment exactly as the docker CLI prints its tables.
//!
//! Docker renders a `table …` format by executing the template once for the
//! header and once per row (cells separated by `\t`, every line ended by
//! `\n`) and piping the text through its fork of Go's `text/tabwriter`
//! (`cli/command/formatter/tabwriter`), configured as
//! `NewWriter(out, 10, 1, 3, ' ', 0)`: minimum cell width 10 *including* the
//! padding, padding 3, space padding, no flags.
//!
//! [`tabwriter_format`] is a port of that algorithm:
//!
//! * Cells are terminated by `\t` or `\v`; lines by `\n` or `\f` (a `\f` is
//!   written as `\n` and, like a line with a single cell, ends all column
//!   blocks). Text after the last tab of a line is a cell that belongs to no
//!   column and is never padded.
//! * A column block is a run of consecutive lines that all have a
//!   tab-terminated cell in that column; its width is
//!   `max(10, widest cell + 3)`, computed per block (recursively, column by
//!   column, inside the block of the column to its left), so a line with fewer
//!   cells splits the blocks of the columns it lacks.
//! * Every tab-terminated cell, empty ones included, is padded with spaces to
//!   its block's width; nothing is trimmed.
//! * Docker's fork measures cells with `go-runewidth`'s `StringWidth`, not
//!   Go's rune count: the sum over extended grapheme clusters of the width of
//!   the cluster's first non-zero-width rune, where East Asian Wide and
//!   Fullwidth characters count 2, C0/C1 controls, a few format characters
//!   and combining diacritics 0, everything else 1. [`display_width`]
//!   reproduces that with tables derived from Unicode 14 (grapheme break
//!   properties, East Asian Width, plus the Unicode 15.0 emoji) and the
//!   default (non-CJK-locale) condition; it differs from docker only on
//!   characters added to Unicode after 12 (docker's grapheme tables) or
//!   after 15.0. Docker additionally counts East Asian Ambiguous characters as
//!   2 when the locale (`LC_ALL`/`LC_CTYPE`/`LANG`) is Chinese, Japanese or
//!   Korean, or `RUNEWIDTH_EASTASIAN=1`; that locale-dependent mode is not
//!   reproduced.
//!
//! The `tabwriter` crate is not used: it adds the padding after applying the
//! minimum width (`max(minwidth, w) + padding` instead of Go's
//! `max(minwidth, w + padding)`), ignores `\v` and `\f`, and measures width
//! per `char` with `unicode-width`, which disagrees with docker on grapheme
//! clusters (emoji ZWJ sequences, flags, Hangul jamo, spacing marks).

/// Docker's tabwriter minimum cell width, padding included.
const MIN_WIDTH: usize = 10;

/// Docker's tabwriter padding.
const PADDING: usize = 3;

/// Renders `rows` the way docker prints a table: each row's cells joined by
/// `\t` and ended by `\n`, then aligned by [`tabwriter_format`].
///
/// `rows[0]` is normally the header. Cells are inserted verbatim, as docker's
/// templates do: a `\t` or `\n` inside a cell splits it.
pub fn render_table(rows: &[Vec<String>]) -> String {
    let mut text = String::new();
    for row in rows {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    tabwriter_format(&text)
}

/// Aligns `text` exactly as docker's tabwriter
/// (`NewWriter(out, 10, 1, 3, ' ', 0)`) does when the whole text is written
/// and then flushed.
pub fn tabwriter_format(text: &str) -> String {
    let mut writer = TabWriter::new(MIN_WIDTH, PADDING);
    writer.write(text);
    writer.flush();
    writer.out
}

/// A cell: its size in bytes and its display width.
#[derive(Debug, Clone, Copy)]
struct Cell {
    size: usize,
    width: usize,
}

/// Go's `tabwriter.Writer` state for padchar `' '` and no flags.
#[derive(Debug)]
struct TabWriter {
    minwidth: usize,
    padding: usize,
    /// Text of the buffered cells, terminators removed.
    buf: String,
    /// Size in bytes of the current, not yet terminated cell (at the end of
    /// `buf`).
    cell_size: usize,
    /// Terminated cells, per line; the last line is the current one.
    lines: Vec<Vec<Cell>>,
    /// Column widths of the enclosing column blocks while formatting.
    widths: Vec<usize>,
    out: String,
}

impl TabWriter {
    fn new(minwidth: usize, padding: usize) -> Self {
        Self {
            minwidth,
            padding,
            buf: String::new(),
            cell_size: 0,
            lines: vec![Vec::new()],
            widths: Vec::new(),
            out: String::new(),
        }
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.cell_size = 0;
        self.lines.clear();
        self.lines.push(Vec::new());
        self.widths.clear();
    }

    /// Go's `Writer.Write`: split into cells and lines, flushing whenever a
    /// line break cannot affect the alignment of what follows.
    fn write(&mut self, text: &str) {
        let mut start = 0;
        for (i, byte) in text.bytes().enumerate() {
            if !matches!(byte, b'\t' | b'\x0b' | b'\n' | b'\x0c') {
                continue;
            }
            // Terminators are ASCII, so `i` is a char boundary.
            self.append(&text[start..i]);
            start = i + 1;
            let ncells = self.terminate_cell();
            if byte == b'\n' || byte == b'\x0c' {
                self.lines.push(Vec::new());
                // A form feed always flushes; so does a line with a single
                // cell, since the last cell of a line is in no column.
                if byte == b'\x0c' || ncells == 1 {
                    self.flush();
                }
            }
        }
        self.append(&text[start..]);
    }

    fn append(&mut self, text: &str) {
        self.buf.push_str(text);
        self.cell_size += text.len();
    }

    /// Ends the current cell; returns the number of cells in the line.
    fn terminate_cell(&mut self) -> usize {
        let start = self.buf.len() - self.cell_size;
        let cell = Cell {
            size: self.cell_size,
            width: display_width(&self.buf[start..]),
        };
        self.cell_size = 0;
        match self.lines.last_mut() {
            Some(line) => {
                line.push(cell);
                line.len()
            }
            None => {
                self.lines.push(vec![cell]);
                1
            }
        }
    }

    /// Go's `Writer.Flush`: format and emit everything buffered.
    fn flush(&mut self) {
        if self.cell_size > 0 {
            self.terminate_cell();
        }
        self.format(0, 0, self.lines.len());
        self.reset();
    }

    /// Go's `Writer.format`: lines `line0..line1` starting at byte `pos` of
    /// `buf`, with the widths of the enclosing column blocks in `widths`.
    /// Returns the byte position after `line1`.
    fn format(&mut self, mut pos: usize, mut line0: usize, line1: usize) -> usize {
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            if !self.has_column(this, column) {
                this += 1;
                continue;
            }
            // A cell exists in this column: print the lines before the block,
            // then measure the block.
            pos = self.write_lines(pos, line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && self.has_column(this, column) {
                if let Some(cell) = self.lines[this].get(column) {
                    width = width.max(cell.width + self.padding);
                }
                this += 1;
            }
            // Format the columns to the right within this block.
            self.widths.push(width);
            pos = self.format(pos, line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(pos, line0, line1)
    }

    /// Whether line `index` has a tab-terminated cell in `column` (its last
    /// cell never counts).
    fn has_column(&self, index: usize, column: usize) -> bool {
        column + 1 < self.lines[index].len()
    }

    /// Go's `Writer.writeLines`.
    fn write_lines(&mut self, mut pos: usize, line0: usize, line1: usize) -> usize {
        for i in line0..line1 {
            for (j, cell) in self.lines[i].iter().enumerate() {
                self.out.push_str(&self.buf[pos..pos + cell.size]);
                pos += cell.size;
                if let Some(&width) = self.widths.get(j) {
                    let fill = width.saturating_sub(cell.width);
                    self.out.extend(std::iter::repeat_n(' ', fill));
                }
            }
            if i + 1 == self.lines.len() {
                // Last buffered line: no line break, only pending text.
                self.out.push_str(&self.buf[pos..pos + self.cell_size]);
                pos += self.cell_size;
            } else {
                self.out.push('\n');
            }
        }
        pos
    }
}

/// Display width of `text` as docker's tabwriter measures a cell
/// (`go-runewidth` `StringWidth`, non-East-Asian locale): over extended
/// grapheme clusters, the width of each cluster's first rune of non-zero
/// width.
///
/// Clusters are found with the state machine of the `uniseg` version docker
/// vendors (v0.2.0), quirks included: after a control character (or CR) the
/// next character never starts a Hangul, emoji or regional-indicator
/// sequence, and a Prepend character does not either.
pub fn display_width(text: &str) -> usize {
    // Printable ASCII: every character is a cluster of its own, one column
    // wide. Almost every cell of a table is, and this is its hot loop.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.len();
    }
    let mut total = 0;
    let mut cluster = 0;
    let mut state = GraphemeState::Any;
    for (i, c) in text.chars().enumerate() {
        let (next, boundary) = transition(state, gcb(c));
        state = next;
        if i == 0 || boundary {
            total += cluster;
            cluster = 0;
        }
        if cluster == 0 {
            cluster = rune_width(c);
        }
    }
    total + cluster
}

/// Grapheme cluster break property (UAX #29), with `SpacingMark` folded
/// into `Extend` (they differ only after an emoji, in whether a following
/// ZWJ sequence joins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gcb {
    Other,
    Cr,
    Lf,
    Control,
    Extend,
    Zwj,
    Ri,
    Prepend,
    L,
    V,
    T,
    Lv,
    Lvt,
    ExtPict,
}

/// States of `uniseg`'s grapheme cluster parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GraphemeState {
    Any,
    Cr,
    ControlLf,
    L,
    Lvv,
    Lvtt,
    Prepend,
    Pict,
    PictZwj,
    RiOdd,
    RiEven,
}

fn gcb(c: char) -> Gcb {
    let cp = u32::from(c);
    match cp {
        0x0A => Gcb::Lf,
        0x0D => Gcb::Cr,
        0x200D => Gcb::Zwj,
        0x1F1E6..=0x1F1FF => Gcb::Ri,
        0x1100..=0x115F | 0xA960..=0xA97C => Gcb::L,
        0x1160..=0x11A7 | 0xD7B0..=0xD7C6 => Gcb::V,
        0x11A8..=0x11FF | 0xD7CB..=0xD7FB => Gcb::T,
        0xAC00..=0xD7A3 if (cp - 0xAC00) % 28 == 0 => Gcb::Lv,
        0xAC00..=0xD7A3 => Gcb::Lvt,
        _ if in_table(GCB_CONTROL, cp) => Gcb::Control,
        _ if in_table(GCB_EXTEND, cp) => Gcb::Extend,
        _ if in_table(GCB_PREPEND, cp) => Gcb::Prepend,
        _ if in_table(EXTENDED_PICTOGRAPHIC, cp) => Gcb::ExtPict,
        _ => Gcb::Other,
    }
}

/// One step of `uniseg`'s parser: the state after `prop` and whether a
/// cluster boundary precedes it. A specific (state, property) rule wins;
/// otherwise of the "any property" rule of the state and the "any state"
/// rule of the property, the one with the lower UAX #29 rule number applies
/// (the property's on a tie); with neither, a boundary (GB999).
fn transition(state: GraphemeState, prop: Gcb) -> (GraphemeState, bool) {
    use GraphemeState as S;
    match (state, prop) {
        (S::Cr, Gcb::Lf) => return (S::Any, false),
        (S::L, Gcb::L) => return (S::L, false),
        (S::L, Gcb::V | Gcb::Lv) | (S::Lvv, Gcb::V) => return (S::Lvv, false),
        (S::L, Gcb::Lvt) | (S::Lvv | S::Lvtt, Gcb::T) => return (S::Lvtt, false),
        (S::Pict, Gcb::Extend) => return (S::Pict, false),
        (S::Pict, Gcb::Zwj) => return (S::PictZwj, false),
        (S::PictZwj, Gcb::ExtPict) => return (S::Pict, false),
        (S::RiOdd, Gcb::Ri) => return (S::RiEven, false),
        (S::RiEven, Gcb::Ri) => return (S::RiOdd, true),
        _ => {}
    }
    // (next state, boundary, rule number)
    let by_state = match state {
        S::Cr | S::ControlLf => Some((S::Any, true, 40)),
        S::Prepend => Some((S::Any, false, 92)),
        _ => None,
    };
    let by_prop = match prop {
        Gcb::Cr => Some((S::Cr, true, 50)),
        Gcb::Lf | Gcb::Control => Some((S::ControlLf, true, 50)),
        Gcb::L => Some((S::L, true, 9990)),
        Gcb::V | Gcb::Lv => Some((S::Lvv, true, 9990)),
        Gcb::T | Gcb::Lvt => Some((S::Lvtt, true, 9990)),
        Gcb::Extend | Gcb::Zwj => Some((S::Any, false, 90)),
        Gcb::Prepend => Some((S::Prepend, true, 9990)),
        Gcb::ExtPict => Some((S::Pict, true, 9990)),
        Gcb::Ri => Some((S::RiOdd, true, 9990)),
        Gcb::Other => None,
    };
    match (by_state, by_prop) {
        (Some((s, b, rs)), Some((p, bp, rp))) => {
            if rs < rp {
                (s, b)
            } else {
                (p, bp)
            }
        }
        (Some((s, b, _)), None) | (None, Some((s, b, _))) => (s, b),
        (None, None) => (S::Any, true),
    }
}

/// `go-runewidth` `RuneWidth` for the default (non-CJK) condition.
fn rune_width(c: char) -> usize {
    let cp = u32::from(c);
    match cp {
        0x00..=0x1F | 0x7F..=0x9F | 0xAD => 0,
        0x20..=0x2FF => 1,
        _ if in_table(ZERO_WIDTH, cp) => 0,
        _ if in_table(WIDE, cp) => 2,
        _ => 1,
    }
}

/// Whether `cp` lies in one of the inclusive ranges of `table`, a sorted
/// flat list of `start, end` pairs.
fn in_table(table: &[u32], cp: u32) -> bool {
    let (mut lo, mut hi) = (0, table.len() / 2);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if cp < table[2 * mid] {
            hi = mid;
        } else if cp > table[2 * mid + 1] {
            lo = mid + 1;
        } else {
            return true;
        }
    }
    false
}

/// Zero-width runes beyond the C0/C1 controls: format characters and the
/// combining marks `go-runewidth` measures as zero (ranges, inclusive;
/// combining marks after a base character are covered by the clustering).
const ZERO_WIDTH: &[u32] = &[
    0x0300, 0x036F, 0x0483, 0x0489, 0x070F, 0x070F, 0x07EB, 0x07F3, 0x0C00, 0x0C00, 0x0C04, 0x0C04,
    0x0D00, 0x0D01, 0x135D, 0x135F, 0x180B, 0x180E, 0x1A7F, 0x1A7F, 0x1AB0, 0x1ACE, 0x1B6B, 0x1B73,
    0x1DC0, 0x1DFF, 0x200B, 0x200F, 0x2028, 0x202E, 0x206A, 0x206F, 0x20D0, 0x20F0, 0x2CEF, 0x2CF1,
    0x2DE0, 0x2DFF, 0x3099, 0x309A, 0xA66F, 0xA672, 0xA674, 0xA67D, 0xA69E, 0xA69F, 0xA6F0, 0xA6F1,
    0xA8E0, 0xA8F1, 0xFE20, 0xFE2F, 0xFEFF, 0xFEFF, 0xFFF9, 0xFFFB, 0xFFFE, 0xFFFF,
];

/// East Asian Width Wide and Fullwidth (Unicode 14, plus the emoji of Unicode
/// 15.0), ranges inclusive.
const WIDE: &[u32] = &[
    0x1100, 0x115F, 0x231A, 0x231B, 0x2329, 0x232A, 0x23E9, 0x23EC, 0x23F0, 0x23F0, 0x23F3, 0x23F3,
    0x25FD, 0x25FE, 0x2614, 0x2615, 0x2648, 0x2653, 0x267F, 0x267F, 0x2693, 0x2693, 0x26A1, 0x26A1,
    0x26AA, 0x26AB, 0x26BD, 0x26BE, 0x26C4, 0x26C5, 0x26CE, 0x26CE, 0x26D4, 0x26D4, 0x26EA, 0x26EA,
    0x26F2, 0x26F3, 0x26F5, 0x26F5, 0x26FA, 0x26FA, 0x26FD, 0x26FD, 0x2705, 0x2705, 0x270A, 0x270B,
    0x2728, 0x2728, 0x274C, 0x274C, 0x274E, 0x274E, 0x2753, 0x2755, 0x2757, 0x2757, 0x2795, 0x2797,
    0x27B0, 0x27B0, 0x27BF, 0x27BF, 0x2B1B, 0x2B1C, 0x2B50, 0x2B50, 0x2B55, 0x2B55, 0x2E80, 0x2E99,
    0x2E9B, 0x2EF3, 0x2F00, 0x2FD5, 0x2FF0, 0x2FFB, 0x3000, 0x303E, 0x3041, 0x3096, 0x3099, 0x30FF,
    0x3105, 0x312F, 0x3131, 0x318E, 0x3190, 0x31E3, 0x31F0, 0x321E, 0x3220, 0x3247, 0x3250, 0x4DBF,
    0x4E00, 0xA48C, 0xA490, 0xA4C6, 0xA960, 0xA97C, 0xAC00, 0xD7A3, 0xF900, 0xFAFF, 0xFE10, 0xFE19,
    0xFE30, 0xFE52, 0xFE54, 0xFE66, 0xFE68, 0xFE6B, 0xFF01, 0xFF60, 0xFFE0, 0xFFE6, 0x16FE0,
    0x16FE4, 0x16FF0, 0x16FF1, 0x17000, 0x187F7, 0x18800, 0x18CD5, 0x18D00, 0x18D08, 0x1AFF0,
    0x1AFF3, 0x1AFF5, 0x1AFFB, 0x1AFFD, 0x1AFFE, 0x1B000, 0x1B122, 0x1B150, 0x1B152, 0x1B164,
    0x1B167, 0x1B170, 0x1B2FB, 0x1F004, 0x1F004, 0x1F0CF, 0x1F0CF, 0x1F18E, 0x1F18E, 0x1F191,
    0x1F19A, 0x1F200, 0x1F202, 0x1F210, 0x1F23B, 0x1F240, 0x1F248, 0x1F250, 0x1F251, 0x1F260,
    0x1F265, 0x1F300, 0x1F320, 0x1F32D, 0x1F335, 0x1F337, 0x1F37C, 0x1F37E, 0x1F393, 0x1F3A0,
    0x1F3CA, 0x1F3CF, 0x1F3D3, 0x1F3E0, 0x1F3F0, 0x1F3F4, 0x1F3F4, 0x1F3F8, 0x1F43E, 0x1F440,
    0x1F440, 0x1F442, 0x1F4FC, 0x1F4FF, 0x1F53D, 0x1F54B, 0x1F54E, 0x1F550, 0x1F567, 0x1F57A,
    0x1F57A, 0x1F595, 0x1F596, 0x1F5A4, 0x1F5A4, 0x1F5FB, 0x1F64F, 0x1F680, 0x1F6C5, 0x1F6CC,
    0x1F6CC, 0x1F6D0, 0x1F6D2, 0x1F6D5, 0x1F6D7, 0x1F6DC, 0x1F6DF, 0x1F6EB, 0x1F6EC, 0x1F6F4,
    0x1F6FC, 0x1F7E0, 0x1F7EB, 0x1F7F0, 0x1F7F0, 0x1F90C, 0x1F93A, 0x1F93C, 0x1F945, 0x1F947,
    0x1F9FF, 0x1FA70, 0x1FA7C, 0x1FA80, 0x1FA88, 0x1FA90, 0x1FABD, 0x1FABF, 0x1FAC5, 0x1FACE,
    0x1FADB, 0x1FAE0, 0x1FAE8, 0x1FAF0, 0x1FAF8, 0x20000, 0x2FFFD, 0x30000, 0x3FFFD,
];

/// Grapheme_Cluster_Break Control (Unicode 14); CR and LF are handled apart.
const GCB_CONTROL: &[u32] = &[
    0x0000, 0x0009, 0x000B, 0x000C, 0x000E, 0x001F, 0x007F, 0x009F, 0x00AD, 0x00AD, 0x061C, 0x061C,
    0x180E, 0x180E, 0x200B, 0x200B, 0x200E, 0x200F, 0x2028, 0x202E, 0x2060, 0x206F, 0xFEFF, 0xFEFF,
    0xFFF0, 0xFFFB, 0x13430, 0x13438, 0x1BCA0, 0x1BCA3, 0x1D173, 0x1D17A, 0xE0000, 0xE001F,
    0xE0080, 0xE00FF, 0xE01F0, 0xE0FFF,
];

/// Grapheme_Cluster_Break Extend and SpacingMark (Unicode 14); ZWJ is
/// handled apart.
const GCB_EXTEND: &[u32] = &[
    0x0300, 0x036F, 0x0483, 0x0489, 0x0591, 0x05BD, 0x05BF, 0x05BF, 0x05C1, 0x05C2, 0x05C4, 0x05C5,
    0x05C7, 0x05C7, 0x0610, 0x061A, 0x064B, 0x065F, 0x0670, 0x0670, 0x06D6, 0x06DC, 0x06DF, 0x06E4,
    0x06E7, 0x06E8, 0x06EA, 0x06ED, 0x0711, 0x0711, 0x0730, 0x074A, 0x07A6, 0x07B0, 0x07EB, 0x07F3,
    0x07FD, 0x07FD, 0x0816, 0x0819, 0x081B, 0x0823, 0x0825, 0x0827, 0x0829, 0x082D, 0x0859, 0x085B,
    0x0898, 0x089F, 0x08CA, 0x08E1, 0x08E3, 0x0903, 0x093A, 0x093C, 0x093E, 0x094F, 0x0951, 0x0957,
    0x0962, 0x0963, 0x0981, 0x0983, 0x09BC, 0x09BC, 0x09BE, 0x09C4, 0x09C7, 0x09C8, 0x09CB, 0x09CD,
    0x09D7, 0x09D7, 0x09E2, 0x09E3, 0x09FE, 0x09FE, 0x0A01, 0x0A03, 0x0A3C, 0x0A3C, 0x0A3E, 0x0A42,
    0x0A47, 0x0A48, 0x0A4B, 0x0A4D, 0x0A51, 0x0A51, 0x0A70, 0x0A71, 0x0A75, 0x0A75, 0x0A81, 0x0A83,
    0x0ABC, 0x0ABC, 0x0ABE, 0x0AC5, 0x0AC7, 0x0AC9, 0x0ACB, 0x0ACD, 0x0AE2, 0x0AE3, 0x0AFA, 0x0AFF,
    0x0B01, 0x0B03, 0x0B3C, 0x0B3C, 0x0B3E, 0x0B44, 0x0B47, 0x0B48, 0x0B4B, 0x0B4D, 0x0B55, 0x0B57,
    0x0B62, 0x0B63, 0x0B82, 0x0B82, 0x0BBE, 0x0BC2, 0x0BC6, 0x0BC8, 0x0BCA, 0x0BCD, 0x0BD7, 0x0BD7,
    0x0C00, 0x0C04, 0x0C3C, 0x0C3C, 0x0C3E, 0x0C44, 0x0C46, 0x0C48, 0x0C4A, 0x0C4D, 0x0C55, 0x0C56,
    0x0C62, 0x0C63, 0x0C81, 0x0C83, 0x0CBC, 0x0CBC, 0x0CBE, 0x0CC4, 0x0CC6, 0x0CC8, 0x0CCA, 0x0CCD,
    0x0CD5, 0x0CD6, 0x0CE2, 0x0CE3, 0x0D00, 0x0D03, 0x0D3B, 0x0D3C, 0x0D3E, 0x0D44, 0x0D46, 0x0D48,
    0x0D4A, 0x0D4D, 0x0D57, 0x0D57, 0x0D62, 0x0D63, 0x0D81, 0x0D83, 0x0DCA, 0x0DCA, 0x0DCF, 0x0DD4,
    0x0DD6, 0x0DD6, 0x0DD8, 0x0DDF, 0x0DF2, 0x0DF3, 0x0E31, 0x0E31, 0x0E33, 0x0E3A, 0x0E47, 0x0E4E,
    0x0EB1, 0x0EB1, 0x0EB3, 0x0EBC, 0x0EC8, 0x0ECD, 0x0F18, 0x0F19, 0x0F35, 0x0F35, 0x0F37, 0x0F37,
    0x0F39, 0x0F39, 0x0F3E, 0x0F3F, 0x0F71, 0x0F84, 0x0F86, 0x0F87, 0x0F8D, 0x0F97, 0x0F99, 0x0FBC,
    0x0FC6, 0x0FC6, 0x102D, 0x1037, 0x1039, 0x103E, 0x1056, 0x1059, 0x105E, 0x1060, 0x1071, 0x1074,
    0x1082, 0x1082, 0x1084, 0x1086, 0x108D, 0x108D, 0x109D, 0x109D, 0x135D, 0x135F, 0x1712, 0x1715,
    0x1732, 0x1734, 0x1752, 0x1753, 0x1772, 0x1773, 0x17B4, 0x17D3, 0x17DD, 0x17DD, 0x180B, 0x180D,
    0x180F, 0x180F, 0x1885, 0x1886, 0x18A9, 0x18A9, 0x1920, 0x192B, 0x1930, 0x193B, 0x1A17, 0x1A1B,
    0x1A55, 0x1A5E, 0x1A60, 0x1A60, 0x1A62, 0x1A62, 0x1A65, 0x1A7C, 0x1A7F, 0x1A7F, 0x1AB0, 0x1ACE,
    0x1B00, 0x1B04, 0x1B34, 0x1B44, 0x1B6B, 0x1B73, 0x1B80, 0x1B82, 0x1BA1, 0x1BAD, 0x1BE6, 0x1BF3,
    0x1C24, 0x1C37, 0x1CD0, 0x1CD2, 0x1CD4, 0x1CE8, 0x1CED, 0x1CED, 0x1CF4, 0x1CF4, 0x1CF7, 0x1CF9,
    0x1DC0, 0x1DFF, 0x200C, 0x200C, 0x20D0, 0x20F0, 0x2CEF, 0x2CF1, 0x2D7F, 0x2D7F, 0x2DE0, 0x2DFF,
    0x302A, 0x302F, 0x3099, 0x309A, 0xA66F, 0xA672, 0xA674, 0xA67D, 0xA69E, 0xA69F, 0xA6F0, 0xA6F1,
    0xA802, 0xA802, 0xA806, 0xA806, 0xA80B, 0xA80B, 0xA823, 0xA827, 0xA82C, 0xA82C, 0xA880, 0xA881,
    0xA8B4, 0xA8C5, 0xA8E0, 0xA8F1, 0xA8FF, 0xA8FF, 0xA926, 0xA92D, 0xA947, 0xA953, 0xA980, 0xA983,
    0xA9B3, 0xA9C0, 0xA9E5, 0xA9E5, 0xAA29, 0xAA36, 0xAA43, 0xAA43, 0xAA4C, 0xAA4D, 0xAA7C, 0xAA7C,
    0xAAB0, 0xAAB0, 0xAAB2, 0xAAB4, 0xAAB7, 0xAAB8, 0xAABE, 0xAABF, 0xAAC1, 0xAAC1, 0xAAEB, 0xAAEF,
    0xAAF5, 0xAAF6, 0xABE3, 0xABEA, 0xABEC, 0xABED, 0xFB1E, 0xFB1E, 0xFE00, 0xFE0F, 0xFE20, 0xFE2F,
    0xFF9E, 0xFF9F, 0x101FD, 0x101FD, 0x102E0, 0x102E0, 0x10376, 0x1037A, 0x10A01, 0x10A03,
    0x10A05, 0x10A06, 0x10A0C, 0x10A0F, 0x10A38, 0x10A3A, 0x10A3F, 0x10A3F, 0x10AE5, 0x10AE6,
    0x10D24, 0x10D27, 0x10EAB, 0x10EAC, 0x10F46, 0x10F50, 0x10F82, 0x10F85, 0x11000, 0x11002,
    0x11038, 0x11046, 0x11070, 0x11070, 0x11073, 0x11074, 0x1107F, 0x11082, 0x110B0, 0x110BA,
    0x110C2, 0x110C2, 0x11100, 0x11102, 0x11127, 0x11134, 0x11145, 0x11146, 0x11173, 0x11173,
    0x11180, 0x11182, 0x111B3, 0x111C0, 0x111C9, 0x111CC, 0x111CE, 0x111CF, 0x1122C, 0x11237,
    0x1123E, 0x1123E, 0x112DF, 0x112EA, 0x11300, 0x11303, 0x1133B, 0x1133C, 0x1133E, 0x11344,
    0x11347, 0x11348, 0x1134B, 0x1134D, 0x11357, 0x11357, 0x11362, 0x11363, 0x11366, 0x1136C,
    0x11370, 0x11374, 0x11435, 0x11446, 0x1145E, 0x1145E, 0x114B0, 0x114C3, 0x115AF, 0x115B5,
    0x115B8, 0x115C0, 0x115DC, 0x115DD, 0x11630, 0x11640, 0x116AB, 0x116B7, 0x1171D, 0x1171F,
    0x11722, 0x1172B, 0x1182C, 0x1183A, 0x11930, 0x11935, 0x11937, 0x11938, 0x1193B, 0x1193E,
    0x11940, 0x11940, 0x11942, 0x11943, 0x119D1, 0x119D7, 0x119DA, 0x119E0, 0x119E4, 0x119E4,
    0x11A01, 0x11A0A, 0x11A33, 0x11A39, 0x11A3B, 0x11A3E, 0x11A47, 0x11A47, 0x11A51, 0x11A5B,
    0x11A8A, 0x11A99, 0x11C2F, 0x11C36, 0x11C38, 0x11C3F, 0x11C92, 0x11CA7, 0x11CA9, 0x11CB6,
    0x11D31, 0x11D36, 0x11D3A, 0x11D3A, 0x11D3C, 0x11D3D, 0x11D3F, 0x11D45, 0x11D47, 0x11D47,
    0x11D8A, 0x11D8E, 0x11D90, 0x11D91, 0x11D93, 0x11D97, 0x11EF3, 0x11EF6, 0x16AF0, 0x16AF4,
    0x16B30, 0x16B36, 0x16F4F, 0x16F4F, 0x16F51, 0x16F87, 0x16F8F, 0x16F92, 0x16FE4, 0x16FE4,
    0x16FF0, 0x16FF1, 0x1BC9D, 0x1BC9E, 0x1CF00, 0x1CF2D, 0x1CF30, 0x1CF46, 0x1D165, 0x1D169,
    0x1D16D, 0x1D172, 0x1D17B, 0x1D182, 0x1D185, 0x1D18B, 0x1D1AA, 0x1D1AD, 0x1D242, 0x1D244,
    0x1DA00, 0x1DA36, 0x1DA3B, 0x1DA6C, 0x1DA75, 0x1DA75, 0x1DA84, 0x1DA84, 0x1DA9B, 0x1DA9F,
    0x1DAA1, 0x1DAAF, 0x1E000, 0x1E006, 0x1E008, 0x1E018, 0x1E01B, 0x1E021, 0x1E023, 0x1E024,
    0x1E026, 0x1E02A, 0x1E130, 0x1E136, 0x1E2AE, 0x1E2AE, 0x1E2EC, 0x1E2EF, 0x1E8D0, 0x1E8D6,
    0x1E944, 0x1E94A, 0x1F3FB, 0x1F3FF, 0xE0020, 0xE007F, 0xE0100, 0xE01EF,
];

/// Grapheme_Cluster_Break Prepend (Unicode 14).
const GCB_PREPEND: &[u32] = &[
    0x0600, 0x0605, 0x06DD, 0x06DD, 0x070F, 0x070F, 0x0890, 0x0891, 0x08E2, 0x08E2, 0x0D4E, 0x0D4E,
    0x110BD, 0x110BD, 0x110CD, 0x110CD, 0x111C2, 0x111C3, 0x1193F, 0x1193F, 0x11941, 0x11941,
    0x11A3A, 0x11A3A, 0x11A84, 0x11A89, 0x11D46, 0x11D46,
];

/// Extended_Pictographic (Unicode 14).
const EXTENDED_PICTOGRAPHIC: &[u32] = &[
    0x00A9, 0x00A9, 0x00AE, 0x00AE, 0x203C, 0x203C, 0x2049, 0x2049, 0x2122, 0x2122, 0x2139, 0x2139,
    0x2194, 0x2199, 0x21A9, 0x21AA, 0x231A, 0x231B, 0x2328, 0x2328, 0x2388, 0x2388, 0x23CF, 0x23CF,
    0x23E9, 0x23F3, 0x23F8, 0x23FA, 0x24C2, 0x24C2, 0x25AA, 0x25AB, 0x25B6, 0x25B6, 0x25C0, 0x25C0,
    0x25FB, 0x25FE, 0x2600, 0x2605, 0x2607, 0x2612, 0x2614, 0x2685, 0x2690, 0x2705, 0x2708, 0x2712,
    0x2714, 0x2714, 0x2716, 0x2716, 0x271D, 0x271D, 0x2721, 0x2721, 0x2728, 0x2728, 0x2733, 0x2734,
    0x2744, 0x2744, 0x2747, 0x2747, 0x274C, 0x274C, 0x274E, 0x274E, 0x2753, 0x2755, 0x2757, 0x2757,
    0x2763, 0x2767, 0x2795, 0x2797, 0x27A1, 0x27A1, 0x27B0, 0x27B0, 0x27BF, 0x27BF, 0x2934, 0x2935,
    0x2B05, 0x2B07, 0x2B1B, 0x2B1C, 0x2B50, 0x2B50, 0x2B55, 0x2B55, 0x3030, 0x3030, 0x303D, 0x303D,
    0x3297, 0x3297, 0x3299, 0x3299, 0x1F000, 0x1F0FF, 0x1F10D, 0x1F10F, 0x1F12F, 0x1F12F, 0x1F16C,
    0x1F171, 0x1F17E, 0x1F17F, 0x1F18E, 0x1F18E, 0x1F191, 0x1F19A, 0x1F1AD, 0x1F1E5, 0x1F201,
    0x1F20F, 0x1F21A, 0x1F21A, 0x1F22F, 0x1F22F, 0x1F232, 0x1F23A, 0x1F23C, 0x1F23F, 0x1F249,
    0x1F3FA, 0x1F400, 0x1F53D, 0x1F546, 0x1F64F, 0x1F680, 0x1F6FF, 0x1F774, 0x1F77F, 0x1F7D5,
    0x1F7FF, 0x1F80C, 0x1F80F, 0x1F848, 0x1F84F, 0x1F85A, 0x1F85F, 0x1F888, 0x1F88F, 0x1F8AE,
    0x1F8FF, 0x1F90C, 0x1F93A, 0x1F93C, 0x1F945, 0x1F947, 0x1FAFF, 0x1FC00, 0x1FFFD,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|row| row.iter().map(|cell| (*cell).to_owned()).collect())
            .collect()
    }

    /// The inputs of Go's `text/tabwriter` tests (escape and HTML cases
    /// left out), with the output of docker's tabwriter at docker's settings
    /// (10, 1, 3, ' ', 0), produced by running docker 28.5.2's
    /// `cli/command/formatter/tabwriter` under Go 1.19.
    #[test]
    fn go_tabwriter_cases_at_docker_settings() {
        let cases: &[(&str, &str, &str)] = &[
            ("1a", "", ""),
            ("2", "\n\n\n", "\n\n\n"),
            ("3", "a\nb\nc", "a\nb\nc"),
            ("4a", "\t", ""),
            ("5", "*\t*", "*         *"),
            ("5b", "*\t*\n", "*         *\n"),
            ("5c", "*\t*\t", "*         *"),
            ("6", "\t\n", "          \n"),
            ("7a", "a) foo", "a) foo"),
            ("7b", "b) foo\tbar", "b) foo    bar"),
            ("7c", "c) foo\tbar\t", "c) foo    bar"),
            ("7d", "d) foo\tbar\n", "d) foo    bar\n"),
            ("7e", "e) foo\tbar\t\n", "e) foo    bar       \n"),
            ("8", "Hello, world!\n", "Hello, world!\n"),
            (
                "9a",
                "1\t2\t3\t4\n11\t222\t3333\t44444\n",
                "1         2         3         4\n11        222       3333      44444\n",
            ),
            (
                "9c",
                "1\t2\t3\t4\x0c11\t222\t3333\t44444\n",
                "1         2         3         4\n11        222       3333      44444\n",
            ),
            (
                "10b",
                "1\t2\t3\t4\t\n",
                "1         2         3         4         \n",
            ),
            (
                "11",
                "本\tb\tc\naa\t本本本\tcccc\tddddd\naaa\tbbbb\n",
                "本        b         c\naa        本本本    cccc      ddddd\naaa       bbbb\n",
            ),
            (
                "12",
                "a\tè\tc\t\naa\tèèè\tcccc\tddddd\t\naaa\tèèèè\t\n",
                "a         è         c         \naa        èèè       cccc      ddddd     \naaa       èèèè      \n",
            ),
            (
                "13a",
                "4444\t日本語\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n",
                "4444        日本語    22        1         333\n999999999   22\n7           22\n                                88888888\n\n666666    666666    666666      4444\n1         1         999999999   0000000000\n",
            ),
            (
                "13b",
                "4444\t333\t22\t1\t333\n999999999\t22\n7\t22\n\t\t\t88888888\n\n666666\t666666\t666666\t4444\n1\t1\t999999999\t0000000000\n",
                "4444        333       22        1         333\n999999999   22\n7           22\n                                88888888\n\n666666    666666    666666      4444\n1         1         999999999   0000000000\n",
            ),
            (
                "14",
                ".0\t.3\t2.4\t-5.1\t\n23.0\t12345678.9\t2.4\t-989.4\t\n5.1\t12.0\t2.4\t-7.0\t\n.0\t0.0\t332.0\t8908.0\t\n.0\t-.3\t456.4\t22.1\t\n.0\t1.2\t44.4\t-13.3\t\t",
                ".0        .3           2.4       -5.1      \n23.0      12345678.9   2.4       -989.4    \n5.1       12.0         2.4       -7.0      \n.0        0.0          332.0     8908.0    \n.0        -.3          456.4     22.1      \n.0        1.2          44.4      -13.3     ",
            ),
            ("15a", "a\t\tb", "a                   b"),
            ("15c", "a\x0b\x0bb", "a                   b"),
            (
                "16a",
                "a\tb\t\td\na\tb\t\td\te\na\tb\tc\td\na\tb\tc\td\te\n",
                "a         b                   d\na         b                   d         e\na         b         c         d\na         b         c         d         e\n",
            ),
        ];
        for &(name, input, want) in cases {
            assert_eq!(tabwriter_format(input), want, "case {name}");
        }
    }

    #[test]
    fn docker_images_table() {
        let table = rows(&[
            &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &["ubuntu", "latest", "0b1edfbffd27", "2 weeks ago", "78.1MB"],
            &[
                "registry.example.com/team/very-long-repository-name",
                "v1.2.3-alpine3.19",
                "5f70bf18a086",
                "3 months ago",
                "1.23GB",
            ],
            &["<none>", "<none>", "2b7cc08dcdbb", "13 months ago", "999B"],
            &[
                "alpine",
                "3.19",
                "05455a08881e",
                "Less than a second ago",
                "7.38MB",
            ],
        ]);
        let want = "\
REPOSITORY                                            TAG                 IMAGE ID       CREATED                  SIZE
ubuntu                                                latest              0b1edfbffd27   2 weeks ago              78.1MB
registry.example.com/team/very-long-repository-name   v1.2.3-alpine3.19   5f70bf18a086   3 months ago             1.23GB
<none>                                                <none>              2b7cc08dcdbb   13 months ago            999B
alpine                                                3.19                05455a08881e   Less than a second ago   7.38MB
";
        assert_eq!(render_table(&table), want);
    }

    #[test]
    fn docker_images_header_only() {
        let table = rows(&[&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]]);
        assert_eq!(
            render_table(&table),
            "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n"
        );
    }

    #[test]
    fn docker_images_with_digests() {
        let table = rows(&[
            &["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
            &[
                "nginx",
                "1.27",
                "sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a",
                "9bea9f2796e2",
                "5 days ago",
                "192MB",
            ],
            &[
                "nginx",
                "<none>",
                "<none>",
                "a8758716bb6a",
                "2 months ago",
                "188MB",
            ],
        ]);
        let want = "\
REPOSITORY   TAG       DIGEST                                                                    IMAGE ID       CREATED        SIZE
nginx        1.27      sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a   9bea9f2796e2   5 days ago     192MB
nginx        <none>    <none>                                                                    a8758716bb6a   2 months ago   188MB
";
        assert_eq!(render_table(&table), want);
    }

    #[test]
    fn docker_history_keeps_trailing_padding_before_empty_comment() {
        let table = rows(&[
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &[
                "0b1edfbffd27",
                "2 weeks ago",
                "/bin/sh -c #(nop)  CMD [\"/bin/bash\"]",
                "0B",
                "",
            ],
            &[
                "<missing>",
                "2 weeks ago",
                "/bin/sh -c #(nop) ADD file:6df775300d76441a…",
                "78.1MB",
                "",
            ],
            &[
                "<missing>",
                "N/A",
                "RUN /bin/sh -c echo 日本語テキスト # buildkit",
                "1.02kB",
                "buildkit.dockerfile.v0",
            ],
        ]);
        // Wide characters count 2 columns; the SIZE cell is padded even
        // when the COMMENT after it is empty.
        let want = "IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT\n\
0b1edfbffd27   2 weeks ago   /bin/sh -c #(nop)  CMD [\"/bin/bash\"]            0B        \n\
<missing>      2 weeks ago   /bin/sh -c #(nop) ADD file:6df775300d76441a…    78.1MB    \n\
<missing>      N/A           RUN /bin/sh -c echo 日本語テキスト # buildkit   1.02kB    buildkit.dockerfile.v0\n";
        assert_eq!(render_table(&table), want);
    }

    #[test]
    fn docker_system_df_table() {
        let table = rows(&[
            &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
            &["Images", "5", "2", "16.43GB", "11.62GB (70%)"],
            &["Containers", "2", "0", "212B", "212B (100%)"],
            &["Local Volumes", "2", "1", "36.87MB", "0B (0%)"],
            &["Build Cache", "0", "0", "0B", "0B"],
        ]);
        let want = "\
TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          5         2         16.43GB   11.62GB (70%)
Containers      2         0         212B      212B (100%)
Local Volumes   2         1         36.87MB   0B (0%)
Build Cache     0         0         0B        0B
";
        assert_eq!(render_table(&table), want);
    }

    #[test]
    fn rows_with_fewer_cells_split_column_blocks() {
        let table = rows(&[
            &["A", "B", "C"],
            &["x"],
            &["yy", "z", "w"],
            &["longer cell", "q"],
        ]);
        assert_eq!(
            render_table(&table),
            "A         B         C\nx\nyy            z         w\nlonger cell   q\n"
        );
    }

    #[test]
    fn single_column_is_never_padded() {
        let table = rows(&[&["IMAGE ID"], &["0b1edfbffd27"], &["5f70bf18a086"]]);
        assert_eq!(
            render_table(&table),
            "IMAGE ID\n0b1edfbffd27\n5f70bf18a086\n"
        );
    }

    #[test]
    fn newlines_and_tabs_inside_cells_are_not_escaped() {
        let table = rows(&[
            &["IMAGE", "CREATED BY", "SIZE"],
            &[
                "<missing>",
                "RUN /bin/sh -c cat <<EOF > /x\nhello\tworld\nEOF",
                "12B",
            ],
            &["abc", "short", "1kB"],
        ]);
        assert_eq!(
            render_table(&table),
            "IMAGE       CREATED BY   SIZE\n<missing>   RUN /bin/sh -c cat <<EOF > /x\nhello       world\nEOF         12B\nabc         short     1kB\n"
        );
    }

    #[test]
    fn empty_input_and_empty_rows() {
        assert_eq!(render_table(&[]), "");
        assert_eq!(render_table(&[Vec::new()]), "\n");
        assert_eq!(tabwriter_format("\t\t\n"), "                    \n");
    }

    /// Widths from go-runewidth v0.0.16 `StringWidth` (docker 28.5.2's
    /// vendored copy, default locale) under Go 1.19.
    #[test]
    fn display_width_matches_go_runewidth() {
        let cases: &[(&str, usize)] = &[
            ("", 0),
            ("REPOSITORY", 10),
            ("\u{e9}", 1),
            ("e\u{301}", 1),
            ("\u{4e2d}\u{6587}", 4),
            ("日本語テキスト", 14),
            ("\u{1f600}", 2),
            ("\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}", 2),
            ("\u{1f1e9}\u{1f1ea}", 1),
            ("\u{1f1e9}\u{1f1ea}\u{1f1eb}", 2),
            ("\u{1100}\u{1161}\u{11a8}", 2),
            ("\u{d55c}\u{ad6d}\u{c5b4}", 6),
            ("\u{7}\u{1100}\u{1161}\u{11a8}", 3),
            ("\u{200b}", 0),
            ("\u{301}", 0),
            ("\u{e17}\u{e35}\u{e48}", 1),
            ("\u{915}\u{94d}\u{937}\u{93f}", 2),
            ("\u{ff41}\u{ff42}\u{ff43}", 6),
            ("\u{ff71}\u{ff72}\u{ff73}", 3),
            ("\u{2026}", 1),
            ("\u{263a}\u{fe0f}", 1),
            ("\u{1f44d}\u{1f3fd}", 2),
            ("\u{7}\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}", 4),
            ("\u{ad}", 0),
            ("a\u{200d}b", 2),
            ("\r", 0),
        ];
        for &(text, want) in cases {
            assert_eq!(display_width(text), want, "display_width({text:?})");
        }
    }

    /// The fast path of `display_width`: each printable ASCII character is
    /// a cluster of its own (grapheme property Other, GB999) one column wide.
    #[test]
    fn printable_ascii_is_one_column_per_byte() {
        for byte in 0x20u8..0x7f {
            let c = char::from(byte);
            assert_eq!(gcb(c), Gcb::Other, "{c:?}");
            assert_eq!(rune_width(c), 1, "{c:?}");
        }
        assert_eq!(
            transition(GraphemeState::Any, Gcb::Other),
            (GraphemeState::Any, true)
        );
        assert_eq!(display_width("imgctl-bench/app-0   v500 <none>"), 32);
        assert_eq!(display_width("tab\there"), 7);
    }

    #[test]
    fn tables_are_sorted_ranges() {
        for table in [
            WIDE,
            GCB_CONTROL,
            GCB_EXTEND,
            GCB_PREPEND,
            EXTENDED_PICTOGRAPHIC,
            ZERO_WIDTH,
        ] {
            assert_eq!(table.len() % 2, 0);
            for pair in table.chunks(2) {
                assert!(pair[0] <= pair[1], "{pair:?}");
            }
            for window in table.windows(2).skip(1).step_by(2) {
                assert!(window[0] < window[1], "{window:?}");
            }
        }
    }
}
