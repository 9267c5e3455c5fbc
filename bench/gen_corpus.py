#!/usr/bin/env python3
"""Writes a deterministic synthetic corpus for the benchmarks.

  gen_corpus.py OUT_DIR N_ARTICLES [CHARS]

CHARS: characters of body text per article (default: two paragraphs per section, about
1,000 characters, ~3 KB); `3000` gives the ~9 KB articles of issue #20.

OUT_DIR/seeds/   N seeds in Herald's format (~3 KB of Traditional Chinese each: a lead
                 with the column's inline headings, 5 headings, paragraphs, ad markers and
                 the scraped footer), dated over ten years.
OUT_DIR/hugo/    the same articles as Markdown posts for Hugo, with a minimal site config.
"""
import os
import random
import sys

COMMON = (
    "的一是在不了有和人這中大為上個國我以要他時來用們生到作地於出就分對成會可主發年動同工也能下過子說產種面而方後多定行學法所民得經十三之進著等部度家電力裡如水化高自二理起小物現實加量都兩體制機當使點從業本去把性好應開它合還因由其些然前外天政四日那社義事平形相全表間樣與關各重新線內數正心反你明看原又麼利比或但質氣第向道命此變條只沒結解問意建月公無系軍很情者最立代想已通並提直題黨程展五果料象員革位入常文總次品式活設及管特件長求老頭基資邊流路級少圖山統接知較將組見計別她手角期根論運農指幾九區強放決西被幹做必戰先回則任取據處隊南給色光門即保治北造百規熱領七海口東導器壓志世金增爭濟階油思術極交受聯什認六共權收證改清美再採轉更單風切打白教速花帶安場身車例真務具萬每目至達走積示議聲報鬥完類八離華名確才科張信馬節話米整空元況今集溫傳土許步群廣石記需段研界拉林律叫且究觀越織裝影算低持音眾書布復容兒須際商非驗連斷深難近礦千週委素技備半辦青省列習響約支般史感勞便團往酸歷市克何除消構府稱太準精值號率族維劃選標寫存候毛親快效斯院查江型眼王按格養易置派層片始卻專狀育廠京識適屬圓包火住調滿縣局照參紅細引聽該鐵價嚴"
)
PUNCT = "，，，、。"
ENDINGS = "。！？"


def sentence(rng, lo=12, hi=40):
    n = rng.randint(lo, hi)
    out = []
    for i in range(n):
        out.append(rng.choice(COMMON))
        if i > 4 and rng.random() < 0.08:
            out.append(rng.choice(PUNCT))
    out.append(rng.choice(ENDINGS))
    return "".join(out)


def paragraph(rng):
    return "".join(sentence(rng) for _ in range(rng.randint(2, 4)))


def heading(rng):
    left = "".join(rng.choice(COMMON) for _ in range(rng.randint(3, 8)))
    right = "".join(rng.choice(COMMON) for _ in range(rng.randint(4, 10)))
    return f"{left}：{right}"


def article(rng, day, lead_column, chars=None):
    lead_episode = "".join(sentence(rng) for _ in range(3))
    head = f"date {day} 《華爾街聊什麼》欄目介紹 {lead_column} 本期Podcast與來賓介紹 {lead_episode}"
    blocks = []
    sections = []
    for h in range(5):
        title = heading(rng)
        if chars is None:
            paras = [paragraph(rng) for _ in range(2)]
        else:
            paras = []
            while not paras or sum(map(len, paras)) < chars // 5:
                paras.append(paragraph(rng))
        sections.append((title, paras))
        blocks.append(title)
        for j, p in enumerate(paras):
            blocks.append(p)
            if j == 0 and h % 2 == 0:
                blocks.append("廣告 廣告")
    blocks.append("更多風傳媒報導")
    seed = head + "\n\n" + "\n\n".join(blocks) + "\n"
    return seed, lead_episode, sections


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    chars = int(sys.argv[3]) if len(sys.argv) > 3 else None
    rng = random.Random(20260121)
    # The column introduction is the same in every article, as in the real column.
    column = "".join(sentence(rng) for _ in range(2))
    seeds = os.path.join(out, "seeds")
    posts = os.path.join(out, "hugo", "content", "posts")
    os.makedirs(seeds, exist_ok=True)
    os.makedirs(posts, exist_ok=True)
    import datetime
    start = datetime.date(2016, 1, 4)
    for i in range(n):
        day = start + datetime.timedelta(days=(i * 3653) // n)
        seed, summary, sections = article(rng, day.isoformat(), column, chars)
        ident = f"{rng.getrandbits(64):016x}"
        with open(os.path.join(seeds, f"{i:05d}_{ident}.txt"), "w", encoding="utf-8") as f:
            f.write(seed)
        md = [
            "---",
            f'title: "{sections[0][0]}"',
            f"date: {day.isoformat()}T08:00:00+08:00",
            f'summary: "{summary}"',
            "---",
            "",
        ]
        for k, (title, paras) in enumerate(sections):
            if k:
                md.append(f"## {title}\n")
            md.extend(p + "\n" for p in paras)
        with open(os.path.join(posts, f"{ident}.md"), "w", encoding="utf-8") as f:
            f.write("\n".join(md))
    hugo = os.path.join(out, "hugo")
    with open(os.path.join(hugo, "hugo.toml"), "w") as f:
        f.write('baseURL = "https://example.com/herald/"\nlanguageCode = "zh-TW"\ntitle = "Bench"\n'
                'disableKinds = ["taxonomy", "term"]\n[outputs]\nhome = ["HTML", "RSS"]\nsection = ["HTML", "RSS"]\n'
                '[services.rss]\nlimit = 50\n')
    layouts = os.path.join(hugo, "layouts", "_default")
    os.makedirs(layouts, exist_ok=True)
    with open(os.path.join(layouts, "single.html"), "w") as f:
        f.write('<!DOCTYPE html><html lang="zh-TW"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>'
                '<body><h1>{{ .Title }}</h1><p>{{ .Summary }}</p>{{ .Content }}</body></html>\n')
    with open(os.path.join(layouts, "list.html"), "w") as f:
        f.write('<!DOCTYPE html><html lang="zh-TW"><head><meta charset="utf-8"><title>{{ .Title }}</title></head>'
                '<body><ul>{{ range .Pages }}<li><a href="{{ .Permalink }}">{{ .Title }}</a> {{ .Summary }}</li>{{ end }}</ul></body></html>\n')


if __name__ == "__main__":
    main()
