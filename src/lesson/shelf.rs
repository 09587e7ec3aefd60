//! The lessons a REPL session offers, each parsed only when it is opened.
//!
//! Why: parsing all seventeen built-in lessons (TOML, then every action and expectation) was
//! ~90 % of the instructions the REPL spends before its prompt (11.5 of 12.8 million; issue 26,
//! startup ≤ 5 ms). What the prompt shows first, the lesson list, needs only each lesson's id,
//! title and number of steps: a [`Header`], which a line scan of a built-in source finds. The
//! whole lesson is parsed when the student opens it. Built-in lessons are validated by tests
//! (`builtin_headers_match_the_parse` below holds the scan to the full parse), so a lesson
//! parsed later cannot fail where the eager parse would have succeeded. Lessons from files
//! (`--lessons`) are parsed whole at start, as before: their errors are reported there.

use std::cell::OnceCell;

use super::{load::declared_id, parse_lesson, Lesson, Text, BUILTIN};

/// What the lesson list, the progress summary and Tab completion need of a lesson.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub id: String,
    pub title: Text,
    /// How many steps it has.
    pub steps: usize,
}

impl Header {
    pub fn of(lesson: &Lesson) -> Header {
        Header { id: lesson.id.clone(), title: lesson.title.clone(), steps: lesson.steps.len() }
    }

    /// The header of a built-in lesson source, by scanning its lines: `id`, `title.en` and
    /// `title.ko` as plain one-line strings before the first table, and the `[[step]]` lines
    /// (lines inside multi-line strings are skipped). `None` when the source is written any
    /// other way: the caller then parses it whole.
    fn scan(src: &str) -> Option<Header> {
        let id = declared_id(src)?;
        let (mut en, mut ko, mut steps) = (None, None, 0);
        let mut in_table = false;
        // The delimiter of the multi-line string the scan is in, if any.
        let mut open: Option<&str> = None;
        // A delimiter is counted only on lines with three of its quote character: this runs for
        // every lesson at every start, and most lines have none.
        let toggles = |line: &str, delimiter: &str| {
            line.bytes().filter(|b| *b == delimiter.as_bytes()[0]).count() >= 3
                && line.matches(delimiter).count() % 2 == 1
        };
        for line in src.lines() {
            if let Some(delimiter) = open {
                if toggles(line, delimiter) {
                    open = None;
                }
                continue;
            }
            open = [r#"""""#, "'''"].into_iter().find(|d| toggles(line, d));
            if line.trim_end() == "[[step]]" {
                steps += 1;
            }
            in_table |= line.trim_start().starts_with('[');
            if in_table {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let slot = match key.trim() {
                "title.en" => &mut en,
                "title.ko" => &mut ko,
                _ => continue,
            };
            let text = value.trim().strip_prefix('"')?.strip_suffix('"')?;
            if text.contains(['"', '\\']) || slot.is_some() {
                return None;
            }
            *slot = Some(text.to_string());
        }
        Some(Header { id: id.to_string(), title: Text { en: en?, ko }, steps })
    }
}

/// Where a lesson on the shelf comes from.
enum Source {
    /// `BUILTIN[i]`, parsed when first opened.
    Builtin(usize),
    /// Parsed already (from a file).
    Parsed,
}

/// The lessons of a session, in order; each parsed at most once, when first opened.
pub struct Shelf {
    headers: Vec<Header>,
    sources: Vec<Source>,
    lessons: Vec<OnceCell<Lesson>>,
}

impl Shelf {
    /// The built-in lessons, none parsed yet (unless its source could not be scanned).
    pub fn builtin() -> Shelf {
        let mut shelf = Shelf { headers: Vec::new(), sources: Vec::new(), lessons: Vec::new() };
        for (i, (_, src)) in BUILTIN.iter().enumerate() {
            match Header::scan(src) {
                Some(h) => {
                    shelf.headers.push(h);
                    shelf.sources.push(Source::Builtin(i));
                    shelf.lessons.push(OnceCell::new());
                }
                None => shelf.push(parse_builtin(i)),
            }
        }
        shelf
    }

    /// Lessons already parsed (from `--lessons`).
    pub fn of(lessons: Vec<Lesson>) -> Shelf {
        let mut shelf = Shelf { headers: Vec::new(), sources: Vec::new(), lessons: Vec::new() };
        for l in lessons {
            shelf.push(l);
        }
        shelf
    }

    fn push(&mut self, lesson: Lesson) {
        self.headers.push(Header::of(&lesson));
        self.sources.push(Source::Parsed);
        self.lessons.push(OnceCell::from(lesson));
    }

    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// A lesson by id or 1-based number (as [`super::find`]), parsed now if it was not yet.
    pub fn find(&self, key: &str) -> Option<(usize, &Lesson)> {
        let (i, _) = find_header(&self.headers, key)?;
        let lesson = self.lessons[i].get_or_init(|| match self.sources[i] {
            Source::Builtin(b) => parse_builtin(b),
            Source::Parsed => unreachable!("a parsed lesson's cell is filled when it is shelved"),
        });
        Some((i, lesson))
    }
}

/// [`super::find`] over headers, with its rules (a number first, then an id).
fn find_header<'a>(headers: &'a [Header], key: &str) -> Option<(usize, &'a Header)> {
    if let Ok(n) = key.parse::<usize>() {
        return headers.get(n.checked_sub(1)?).map(|h| (n - 1, h));
    }
    headers.iter().enumerate().find(|(_, h)| h.id == key)
}

fn parse_builtin(i: usize) -> Lesson {
    let (name, src) = BUILTIN[i];
    parse_lesson(&format!("builtin:{name}"), src).expect("built-in lessons are validated by tests")
}

#[cfg(test)]
mod tests {
    use super::super::find;
    use super::*;

    /// The scan is only a shortcut: for every built-in lesson it must find what the parse finds.
    #[test]
    fn builtin_headers_match_the_parse() {
        for (i, (name, src)) in BUILTIN.iter().enumerate() {
            let scanned = Header::scan(src).unwrap_or_else(|| panic!("{name}: the header scan gave up"));
            assert_eq!(scanned, Header::of(&parse_builtin(i)), "{name}");
        }
    }

    #[test]
    fn scan_gives_up_on_what_it_does_not_read() {
        // A `[[step]]` line inside a multi-line string is text, not a step.
        let ok = "id = \"x\"\ntitle.en = \"T\"\nintro.en = '''\n[[step]]\n'''\n[[step]]\ntext.en = \"a\"\n[[step]]\n";
        assert_eq!(
            Header::scan(ok),
            Some(Header { id: "x".into(), title: Text { en: "T".into(), ko: None }, steps: 2 })
        );
        for bad in [
            "id = \"x\"\ntitle.en = \"a \\\"b\\\"\"\n",
            "id = \"x\"\ntitle = { en = \"T\" }\n",
            "id = \"x\"\ntitle.en = \"\"\"T\"\"\"\n",
            "id = \"x\"\ntitle.en = \"\"\"\nT\"\"\"\n",
            "id = \"x\"\ntitle.en = \"T\"\ntitle.en = \"U\"\n",
            "title.en = \"T\"\n",
        ] {
            assert_eq!(Header::scan(bad), None, "{bad}");
        }
    }

    #[test]
    fn find_parses_once_by_number_or_id() {
        let shelf = Shelf::builtin();
        assert_eq!(shelf.headers().len(), BUILTIN.len());
        assert!(shelf.lessons.iter().all(|c| c.get().is_none()), "nothing parsed before it is opened");
        let (i, by_id) = shelf.find("uts").expect("uts");
        let by_id = by_id as *const Lesson;
        let (j, by_number) = shelf.find(&(i + 1).to_string()).expect("by number");
        assert_eq!((i, std::ptr::eq(by_id, by_number)), (j, true));
        assert_eq!(shelf.lessons.iter().filter(|c| c.get().is_some()).count(), 1);
        assert!(shelf.find("0").is_none() && shelf.find("nosuch").is_none());
        let all = super::super::builtin();
        for (k, l) in all.iter().enumerate() {
            let (at, found) = find(&all, &l.id).expect("in the list");
            assert_eq!((at, found.id.as_str()), (k, shelf.find(&l.id).expect("on the shelf").1.id.as_str()));
        }
    }

    #[test]
    fn shelf_of_parsed_lessons_keeps_them() {
        let shelf = Shelf::of(super::super::builtin().into_iter().take(2).collect());
        assert_eq!(shelf.headers().len(), 2);
        assert_eq!(shelf.find("2").map(|(_, l)| l.id.clone()), Some(BUILTIN_ID_2.to_string()));
    }

    const BUILTIN_ID_2: &str = "escape";
}
