//! What the rehearsal shows a person: one line per thing that happens, with the time since the
//! start and who did it, and the card drawn where Slack would show it.
//!
//! Several tasks write at once (the simulated ECS, the bot's handlers answering over HTTP, the
//! people clicking), so every line is written whole under one lock; the order on screen is the
//! order things happened.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Columns: `  12.34s  actor    text`.
const ACTOR_WIDTH: usize = 8;
/// Where the text column starts, for drawings and continuation lines.
pub const TEXT_INDENT: usize = 2 + 7 + 2 + ACTOR_WIDTH;

/// The rehearsal's output.
pub struct Console {
    started: Instant,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Console {
    /// Writes to standard output; the clock starts now.
    pub fn stdout() -> Console {
        Console::to(Box::new(std::io::stdout()))
    }

    pub fn to(out: Box<dyn Write + Send>) -> Console {
        Console {
            started: Instant::now(),
            out: Mutex::new(out),
        }
    }

    /// Time since the rehearsal began.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// One timed line: `actor` did `text`. Extra lines of `text` are indented under the first.
    pub fn line(&self, actor: &str, text: &str) {
        let at = self.started.elapsed().as_secs_f64();
        let mut lines = text.lines();
        let mut block = format!(
            "  {at:>6.2}s  {actor:<ACTOR_WIDTH$}{}\n",
            lines.next().unwrap_or_default()
        );
        for more in lines {
            block.push_str(&format!("{}{more}\n", " ".repeat(TEXT_INDENT)));
        }
        self.write(&block);
    }

    /// A drawing (the card), indented to the text column.
    pub fn drawing(&self, drawing: &str) {
        let indent = " ".repeat(TEXT_INDENT);
        let block: String = drawing
            .lines()
            .map(|line| format!("{indent}{line}\n"))
            .collect();
        self.write(&block);
    }

    /// Untimed text, as is (the header, the summary).
    pub fn say(&self, text: &str) {
        self.write(&format!("{text}\n"));
    }

    fn write(&self, text: &str) {
        let mut out = match self.out.lock() {
            Ok(out) => out,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A closed pipe (`greenlight demo | head`) must not stop the rehearsal.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// A duration as people read it in a timeline: `12 ms`, `0.84 s`, `12.3 s`, `2 min`.
pub fn human(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 0.1 {
        format!("{} ms", duration.as_millis())
    } else if seconds < 10.0 {
        format!("{seconds:.2} s")
    } else if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let whole = duration.as_secs();
        match (whole / 60, whole % 60) {
            (minutes, 0) => format!("{minutes} min"),
            (minutes, rest) => format!("{minutes} min {rest} s"),
        }
    }
}

/// A console's output kept in memory, for the rehearsal's unit tests to read back.
#[cfg(test)]
#[derive(Clone, Default)]
pub(super) struct Shared(pub(super) std::sync::Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_align_their_text_and_drawings_sit_under_it() {
        let shared = Shared::default();
        let console = Console::to(Box::new(shared.clone()));
        console.line("ecs", "first\nsecond");
        console.drawing("┌─┐\n└─┘");
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("    0.00s  ecs     first"), "{text}");
        let column = lines[0].find("first").unwrap();
        assert_eq!(column, TEXT_INDENT);
        assert_eq!(lines[1].find("second"), Some(column));
        assert_eq!(lines[2].find('┌'), Some(column));
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_millis(12)), "12 ms");
        assert_eq!(human(Duration::from_millis(840)), "0.84 s");
        assert_eq!(human(Duration::from_secs(12)), "12.0 s");
        assert_eq!(human(Duration::from_secs(120)), "2 min");
        assert_eq!(human(Duration::from_secs(90)), "1 min 30 s");
    }
}
