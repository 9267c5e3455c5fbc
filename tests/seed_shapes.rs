//! Articles shaped the way the column's other articles are (question and
//! exclamation headings, headings in quotes or brackets, numbered headings, no
//! heading at all, headings only after the first paragraphs), through the real
//! binary: every one is published, with the title and headings a reader expects.

mod common;

use common::Site;

const FIXTURES: [&str; 4] = [
    "101_yen-questions.txt",
    "102_all-questions.txt",
    "103_no-heading.txt",
    "104_late-headings.txt",
];

fn site() -> Site {
    let site = Site::with_shipped_seed();
    for name in FIXTURES {
        std::fs::copy(
            common::repo().join("tests/fixtures/seeds").join(name),
            site.path("seeds").join(name),
        )
        .unwrap();
    }
    site
}

/// The `<h2>` headings of an article page, in order.
fn page_headings(site: &Site, id: &str) -> Vec<String> {
    let page = site.read(&format!("public/articles/{id}.html"));
    page.split("<h2")
        .skip(1)
        .map(|part| {
            let text = &part[part.find('>').unwrap() + 1..part.find("</h2>").unwrap()];
            text.to_string()
        })
        .collect()
}

#[test]
fn every_shape_is_published_with_the_title_a_reader_expects() {
    let site = site();
    let run = site.run_at("2026-01-26T01:00:00Z", &["build"]);
    assert_eq!(
        run.code, 0,
        "a seed without a heading is published: {}",
        run.stderr
    );
    assert!(run.stdout.contains("5 published"), "{}", run.stdout);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].starts_with("warning: 103_no-heading.txt:3: the seed has no heading; its title is taken from its first sentence"),
        "{}",
        warnings[0]
    );
    assert!(
        run.stderr.contains("hint: add a short heading line"),
        "{}",
        run.stderr
    );

    let feed = common::parse_feed(&site, "atom.xml");
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    for expected in [
        "日圓為何反覆走弱？",
        "聯準會還會再降息嗎？",
        "過去一年，美國散戶的交易量創下新高，社群媒體上的選擇權教學影片點閱數以百萬計。",
        "一、美國的補貼與條件",
        "DeepSeek一週年：中國AI崛起的轉捩點",
    ] {
        assert!(
            titles.iter().any(|t| t == expected),
            "{expected} not in {titles:?}"
        );
    }

    assert_eq!(
        page_headings(&site, "yen-questions"),
        [
            "誰來買單？",
            "你會問：那政府為什麼不干預？",
            "「干預」真的有用嗎？",
            "別急著下結論！"
        ]
    );
    assert_eq!(
        page_headings(&site, "late-headings"),
        [
            "（二）日本的重返",
            "3. 歐洲的猶豫",
            "AI 與 2026 年的先進封裝",
            "《晶片戰爭》的第二回合"
        ]
    );
    let late = site.read("public/articles/late-headings.html");
    assert!(
        late.contains("先看一組數字"),
        "the opening paragraph is kept"
    );
    let none = site.read("public/articles/no-heading.html");
    assert!(
        none.contains("監管機構已經注意到"),
        "both paragraphs are kept"
    );

    // The week's e-mail leads with the newest article's real title, and carries
    // all five.
    let digest = site.run_at("2026-01-26T01:00:00Z", &["digest", "--week", "2026-W04"]);
    assert_eq!(digest.code, 0, "{}", digest.stderr);
    assert!(
        digest
            .stdout
            .contains("digest 2026-W04: 5 article(s), subject: 《華爾街聊什麼》週報 2026 年第 4 週：一、美國的補貼與條件"),
        "{}",
        digest.stdout
    );
}

#[test]
fn check_explain_shows_how_each_block_was_read() {
    let site = site();
    let seed = site.path("seeds/101_yen-questions.txt");
    let run = site.run(&["check", "--explain", seed.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let line = |n: usize| {
        lines
            .iter()
            .find(|l| l.trim_start().starts_with(&format!("{n} ")))
            .unwrap_or_else(|| panic!("no line {n} in {}", run.stdout))
            .to_string()
    };
    assert!(line(1).contains("lead"), "{}", line(1));
    assert!(line(3).contains("heading (title)") && line(3).contains("日圓為何反覆走弱？"));
    assert!(line(5).contains("paragraph"));
    assert!(line(7).contains("dropped (boilerplate)") && line(7).contains("廣告"));
    assert!(line(11).contains("heading") && line(11).contains("誰來買單？"));
    let footer = lines
        .iter()
        .find(|l| l.contains("footer (dropped)"))
        .unwrap();
    assert!(footer.contains("更多風傳媒報導"), "{footer}");
    assert!(
        run.stdout.ends_with("title: 日圓為何反覆走弱？\n"),
        "{}",
        run.stdout
    );

    let none = site.path("seeds/103_no-heading.txt");
    let run = site.run(&["check", "--explain", none.to_str().unwrap()]);
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .contains("warning: 103_no-heading.txt:3: the seed has no heading"),
        "{}",
        run.stderr
    );
}
