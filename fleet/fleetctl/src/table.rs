//! fleetctl's tables, laid out as fleet's: Go's `text/tabwriter` with minimum width 0, tab
//! width 8, padding 1 and the TAB character as padding.
//!
//! For every column but the last, the column's width is the longest cell plus one, rounded up
//! to a multiple of 8; each cell is followed by as many TABs as it takes to reach that width
//! (at least one). The last cell of a row is written as it is. Scripts that split fleetctl's
//! output on tabs, and people reading it in a terminal, see the same thing as with fleet.
//!
//! Invariants: every row ends with `\n`; no cell may contain a TAB or a newline (the caller's
//! cells are single-line texts; such characters are replaced by a space so the grid holds).

/// Tab stops every 8 columns, as a terminal's.
const TAB_WIDTH: usize = 8;

/// Lays out `rows` (the header first, when there is one). Width is counted in characters.
#[must_use]
pub fn render(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        let padded = row.len().saturating_sub(1);
        for (column, cell) in row.iter().take(padded).enumerate() {
            widths[column] = widths[column].max(cell_width(cell));
        }
    }
    let widths: Vec<usize> = widths
        .into_iter()
        .map(|longest| (longest + 1).div_ceil(TAB_WIDTH) * TAB_WIDTH)
        .collect();
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (column, cell) in row.iter().enumerate() {
            out.push_str(&clean(cell));
            if column < last {
                let tabs = (widths[column] - cell_width(cell)).div_ceil(TAB_WIDTH);
                out.extend(std::iter::repeat_n('\t', tabs.max(1)));
            }
        }
        out.push('\n');
    }
    out
}

fn cell_width(cell: &str) -> usize {
    cell.chars().count()
}

fn clean(cell: &str) -> String {
    cell.replace(['\t', '\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    //! The layout against fleet's own examples, with the TABs spelled out.

    use super::*;

    fn rows(lines: &[&[&str]]) -> Vec<Vec<String>> {
        lines
            .iter()
            .map(|line| line.iter().map(|cell| (*cell).to_owned()).collect())
            .collect()
    }

    #[test]
    fn machines_table_matches_fleets() {
        // Goal: the list-machines example: 11- and 12-character cells take one TAB, the
        // shorter header cells two.
        let table = render(&rows(&[
            &["MACHINE", "IP", "METADATA"],
            &["113f16a7...", "172.17.8.103", "az=us-west-1b"],
        ]));
        assert_eq!(
            table,
            "MACHINE\t\tIP\t\tMETADATA\n113f16a7...\t172.17.8.103\taz=us-west-1b\n"
        );
    }

    #[test]
    fn units_table_matches_fleets() {
        // Goal: the list-units example, where the MACHINE column is 24 wide.
        let table = render(&rows(&[
            &["UNIT", "MACHINE", "ACTIVE", "SUB"],
            &[
                "hello.service",
                "113f16a7.../172.17.8.103",
                "active",
                "running",
            ],
            &[
                "goodbye.service",
                "85c0c595.../172.17.8.102",
                "activating",
                "start-pre",
            ],
        ]));
        assert_eq!(
            table,
            "UNIT\t\tMACHINE\t\t\t\tACTIVE\t\tSUB\n\
             hello.service\t113f16a7.../172.17.8.103\tactive\t\trunning\n\
             goodbye.service\t85c0c595.../172.17.8.102\tactivating\tstart-pre\n"
        );
    }

    #[test]
    fn a_cell_filling_its_column_exactly_still_gets_a_tab() {
        // Goal: an 8-character cell makes the column 16 wide (longest + 1, rounded up), so a
        // cell of 8 gets one TAB and never touches the next column.
        let table = render(&rows(&[&["12345678", "x"], &["a", "y"]]));
        assert_eq!(table, "12345678\tx\na\t\ty\n");
    }

    #[test]
    fn empty_and_single_column_tables() {
        // Goal: no rows is no output; one column is the cells as they are; tabs in cells are
        // replaced so the grid holds.
        assert_eq!(render(&[]), "");
        assert_eq!(
            render(&rows(&[&["UNIT"], &["a.service"]])),
            "UNIT\na.service\n"
        );
        assert_eq!(render(&rows(&[&["a\tb", "c"]])), "a b\tc\n");
    }
}
