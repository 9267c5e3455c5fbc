"""The W3C feed validator's rules, for the feeds Herald writes.

The validator itself (validator.w3.org/feed) is not published on any package
registry this project's machines reach, so this judge applies the checks of its
message catalogue that concern documents of Herald's shape: Atom 1.0 and RSS 2.0,
with the atom, dc, content and RFC 5005 (fh) extensions. Each finding carries the
validator's own message name and its level (error or warning), so a finding can be
looked up in the validator's documentation.

Usage: feed_rules.py BASE_URL ROOT FILE...
  BASE_URL  the site's base URL; a document's own URL is BASE_URL + its path
            under ROOT (what `rel="self"` must name)
Prints one line per finding and exits 1 when there is any; prints
"N documents, 0 errors, 0 warnings" and exits 0 otherwise.
"""

import email.utils
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlsplit

ATOM = "http://www.w3.org/2005/Atom"
FH = "http://purl.org/syndication/history/1.0"
DC = "http://purl.org/dc/elements/1.1/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"

# The prefixes the validator expects for the namespaces it knows. Another prefix
# for one of them is NonstdPrefix, which the validator files under best practice,
# below a warning: this judge reports it as a warning all the same.
STANDARD_PREFIXES = {ATOM: "atom", DC: "dc", CONTENT: "content", FH: "fh"}

# The IANA link relation registry: any other token is UnregisteredAtomLinkRel.
REGISTERED_RELS = set(
    """alternate appendix bookmark canonical chapter contents copyright current
    describedby edit edit-media enclosure first glossary help hub icon index last
    latest-version license next next-archive payment predecessor-version prev
    prev-archive previous related replies search section self service start
    stylesheet subsection successor-version up version-history via working-copy
    working-copy-of""".split()
)

RSS_CHANNEL = set(
    """title link description language copyright managingEditor webMaster pubDate
    lastBuildDate category generator docs cloud ttl image rating textInput skipHours
    skipDays item""".split()
)
RSS_ITEM = set(
    "title link description author category comments enclosure guid pubDate source".split()
)

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d(:\d\d)? ([+-]\d{4}|GMT|UT|EST|EDT|CST|CDT|MST|MDT|PST|PDT)$"
)
EMAIL_WITH_NAME = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+( \(.+\))?$")

# Markup the validator reports in escaped HTML content (SecurityRisk).
UNSAFE_ELEMENTS = {"script", "object", "embed", "iframe", "frame", "frameset", "applet", "form", "meta", "link", "base"}


class Findings:
    def __init__(self, name):
        self.name = name
        self.items = []

    def error(self, rule, detail):
        self.items.append(f"{self.name}: error: {rule}: {detail}")

    def warning(self, rule, detail):
        self.items.append(f"{self.name}: warning: {rule}: {detail}")


class HtmlReview(HTMLParser):
    """Flags what the validator flags inside escaped HTML: relative references
    (ContainsRelRef), active content (SecurityRisk) and style attributes
    (DangerousStyleAttr)."""

    URL_ATTRS = {"href", "src", "cite", "longdesc", "poster"}

    def __init__(self, findings, where):
        super().__init__(convert_charrefs=True)
        self.findings = findings
        self.where = where

    def handle_starttag(self, tag, attrs):
        if tag in UNSAFE_ELEMENTS:
            self.findings.warning("SecurityRisk", f"<{tag}> in {self.where}")
        for name, value in attrs:
            if name.startswith("on"):
                self.findings.warning("SecurityRisk", f"{name} on <{tag}> in {self.where}")
            elif name == "style":
                self.findings.warning("DangerousStyleAttr", f"<{tag} style> in {self.where}")
            elif name in self.URL_ATTRS and value is not None:
                scheme = urlsplit(value).scheme
                if not scheme and not value.startswith("#"):
                    self.findings.warning("ContainsRelRef", f"{name}={value!r} in {self.where}")
                if scheme.lower() == "javascript":
                    self.findings.warning("SecurityRisk", f"javascript: URL in {self.where}")


def review_html(findings, text, where):
    parser = HtmlReview(findings, where)
    parser.feed(text or "")
    parser.close()


def check_uri(findings, value, where):
    parts = urlsplit(value or "")
    if not parts.scheme or (parts.scheme in ("http", "https") and not parts.netloc):
        findings.error("InvalidFullLink", f"{where} is not an absolute URL: {value!r}")
    if any(c.isspace() for c in value or ""):
        findings.error("InvalidURIAttribute", f"{where} contains white space: {value!r}")


def check_date(findings, element, where, rule, pattern, parse):
    """The date in `element` as `parse` reads it, or None after reporting `rule` when
    it does not match `pattern` or does not parse."""
    text = (element.text or "").strip()
    try:
        if pattern.match(text):
            return parse(text)
    except (TypeError, ValueError):
        pass
    findings.error(rule, f"{where}: {text!r}")
    return None


def check_rfc3339(findings, element, where):
    return check_date(findings, element, where, "InvalidRFC3339Date", RFC3339,
                      lambda text: datetime.fromisoformat(text.replace("Z", "+00:00")))


def check_rfc822(findings, element, where):
    parsed = check_date(findings, element, where, "InvalidRFC2822Date", RFC822,
                        email.utils.parsedate_to_datetime)
    text = (element.text or "").strip()
    if parsed is not None and parsed.strftime("%a") != text[:3]:
        findings.warning("IncorrectDOW", f"{where}: {text!r} was a {parsed.strftime('%A')}")
    return parsed


def check_namespaces(findings, raw):
    for prefix, uri in re.findall(rb'xmlns:([A-Za-z_][\w.-]*)="([^"]*)"', raw):
        prefix, uri = prefix.decode(), uri.decode()
        expected = STANDARD_PREFIXES.get(uri)
        if expected and prefix != expected:
            findings.warning("NonstdPrefix", f"{uri} is bound to {prefix!r}, not {expected!r}")
        elif not expected and prefix in STANDARD_PREFIXES.values():
            findings.warning("ReservedPrefix", f"{prefix!r} is bound to {uri}")


def check_self(findings, links, location, where):
    selves = [link.get("href") for link in links if link.get("rel") == "self"]
    if not selves:
        findings.warning("MissingSelf" if where == "feed" else "MissingAtomSelfLink", f"{where} has no rel=self link")
    elif selves[0] != location:
        findings.warning("SelfDoesntMatchLocation", f"self is {selves[0]}, the document is at {location}")


def check_link_rels(findings, links, where):
    seen = set()
    for link in links:
        rel = link.get("rel", "alternate")
        href = link.get("href")
        if href is None:
            findings.error("MissingHref", f"a link in {where}")
        else:
            check_uri(findings, href, f"link rel={rel} href in {where}")
        if rel not in REGISTERED_RELS and not urlsplit(rel).scheme:
            findings.warning("UnregisteredAtomLinkRel", f"rel={rel!r} in {where}")
        if rel in ("alternate", "self", "current", "prev-archive", "next-archive"):
            key = (rel, link.get("type"), link.get("hreflang"))
            if key in seen:
                findings.error("DuplicateAtomLink", f"two {rel} links of one type in {where}")
            seen.add(key)


def check_atom(findings, root, location, is_archive):
    q = lambda name: f"{{{ATOM}}}{name}"
    for name in ("id", "title", "updated"):
        count = len(root.findall(q(name)))
        if count == 0:
            findings.error("MissingElement", f"feed has no {name}")
        elif count > 1:
            findings.error("DuplicateElement", f"feed has {count} {name}")
    feed_links = root.findall(q("link"))
    check_self(findings, feed_links, location, "feed")
    check_link_rels(findings, feed_links, "feed")
    if root.find(q("id")) is not None:
        check_uri(findings, root.find(q("id")).text, "feed id")
    if root.find(q("updated")) is not None:
        check_rfc3339(findings, root.find(q("updated")), "feed updated")
    archive_marks = root.findall(f"{{{FH}}}archive")
    if is_archive and len(archive_marks) != 1:
        findings.error("MissingElement", f"an archive document needs one fh:archive, found {len(archive_marks)}")
    if not is_archive and archive_marks:
        findings.error("UnexpectedElement", "fh:archive in a subscription document")
    feed_author = root.find(q("author")) is not None
    ids, updates = set(), {}
    for index, entry in enumerate(root.findall(q("entry")), 1):
        where = f"entry {index}"
        for name in ("id", "title", "updated"):
            if len(entry.findall(q(name))) != 1:
                findings.error("MissingElement" if entry.find(q(name)) is None else "DuplicateElement", f"{where}: {name}")
        entry_id = (entry.findtext(q("id")) or "").strip()
        check_uri(findings, entry_id, f"{where} id")
        if entry_id in ids:
            findings.warning("DuplicateEntries", f"{where}: id {entry_id} appears twice")
        ids.add(entry_id)
        updated = check_rfc3339(findings, entry.find(q("updated")), f"{where} updated") if entry.find(q("updated")) is not None else None
        if updated is not None:
            if updated in updates:
                findings.warning("DuplicateUpdated", f"{where} and entry {updates[updated]} have the same updated")
            updates.setdefault(updated, index)
        if entry.find(q("published")) is not None:
            published = check_rfc3339(findings, entry.find(q("published")), f"{where} published")
            if published and updated and published > updated:
                findings.error("UpdatedBeforePublished", f"{where}: updated is earlier than published")
        if not feed_author and entry.find(q("author")) is None:
            findings.error("MissingAuthor", f"{where} has no author and the feed has none")
        for author in entry.findall(q("author")):
            if not (author.findtext(q("name")) or "").strip():
                findings.error("MissingElement", f"{where}: author without name")
        links = entry.findall(q("link"))
        check_link_rels(findings, links, where)
        content = entry.find(q("content"))
        if content is None and not any(l.get("rel", "alternate") == "alternate" for l in links):
            findings.error("MissingContentOrAlternate", where)
        if content is not None and content.get("src") and entry.find(q("summary")) is None:
            findings.error("MissingSummary", f"{where}: content with src needs a summary")
        for name in ("title", "summary", "content"):
            element = entry.find(q(name))
            if element is None:
                continue
            kind = element.get("type", "text")
            if kind not in ("text", "html", "xhtml") and name != "content":
                findings.error("InvalidTextType", f"{where} {name} type={kind!r}")
            if kind == "html":
                review_html(findings, element.text, f"{where} {name}")
        for category in entry.findall(q("category")):
            if not category.get("term"):
                findings.error("MissingAttribute", f"{where}: category without term")


def check_rss(findings, root, location, is_archive):
    if root.get("version") != "2.0":
        findings.error("InvalidRSSVersion", f"version={root.get('version')!r}")
    channel = root.find("channel")
    if channel is None:
        findings.error("MissingElement", "rss has no channel")
        return
    for name in ("title", "link", "description"):
        if channel.find(name) is None:
            findings.error("MissingElement", f"channel has no {name}")
    for child in channel:
        if not child.tag.startswith("{") and child.tag not in RSS_CHANNEL:
            findings.error("UndefinedElement", f"channel has <{child.tag}>")
    check_uri(findings, channel.findtext("link"), "channel link")
    atom_links = channel.findall(f"{{{ATOM}}}link")
    check_self(findings, atom_links, location, "channel")
    check_link_rels(findings, atom_links, "channel")
    for name in ("pubDate", "lastBuildDate"):
        if channel.find(name) is not None:
            check_rfc822(findings, channel.find(name), f"channel {name}")
    for name in ("managingEditor", "webMaster"):
        value = channel.findtext(name)
        if value is not None and not EMAIL_WITH_NAME.match(value.strip()):
            findings.error("InvalidContact", f"channel {name}: {value!r}")
    archive_marks = channel.findall(f"{{{FH}}}archive")
    if is_archive and len(archive_marks) != 1:
        findings.error("MissingElement", f"an archive document needs one fh:archive, found {len(archive_marks)}")
    if not is_archive and archive_marks:
        findings.error("UnexpectedElement", "fh:archive in a subscription document")
    guids = set()
    for index, item in enumerate(channel.findall("item"), 1):
        where = f"item {index}"
        for child in item:
            if not child.tag.startswith("{") and child.tag not in RSS_ITEM:
                findings.error("UndefinedElement", f"{where} has <{child.tag}>")
        if item.find("title") is None and item.find("description") is None:
            findings.error("ItemMustContainTitleOrDescription", where)
        if item.find("link") is not None:
            check_uri(findings, item.findtext("link"), f"{where} link")
        guid = item.find("guid")
        if guid is not None:
            value = (guid.text or "").strip()
            if guid.get("isPermaLink", "true") == "true":
                check_uri(findings, value, f"{where} guid (a permalink)")
            if value in guids:
                findings.warning("DuplicateItem", f"{where}: guid {value} appears twice")
            guids.add(value)
        if item.find("pubDate") is not None:
            check_rfc822(findings, item.find("pubDate"), f"{where} pubDate")
        author = item.findtext("author")
        if author is not None and not EMAIL_WITH_NAME.match(author.strip()):
            findings.error("InvalidContact", f"{where} author: {author!r}")
        review_html(findings, item.findtext("description"), f"{where} description")
        review_html(findings, item.findtext(f"{{{CONTENT}}}encoded"), f"{where} content:encoded")


def check_document(path, root_dir, base_url):
    relative = path.relative_to(root_dir).as_posix()
    findings = Findings(relative)
    raw = path.read_bytes()
    declaration = re.match(rb'<\?xml[^>]*encoding="([^"]+)"', raw)
    if declaration and declaration.group(1).lower() not in (b"utf-8", b"utf8"):
        findings.warning("NotUTF8", declaration.group(1).decode())
    try:
        raw.decode("utf-8")
        root = ET.fromstring(raw)
    except (UnicodeDecodeError, ET.ParseError) as error:
        findings.error("SAXError", str(error))
        return findings
    check_namespaces(findings, raw)
    location = base_url + quote(relative, safe="/")
    is_archive = relative.startswith("feeds/")
    if root.tag == f"{{{ATOM}}}feed":
        check_atom(findings, root, location, is_archive)
    elif root.tag == "rss":
        check_rss(findings, root, location, is_archive)
    else:
        findings.error("UnsupportedFormat", root.tag)
    return findings


def main():
    base_url, root_dir, files = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    if not files:
        sys.exit("feed_rules.py: no documents given")
    problems = []
    for name in files:
        problems += check_document(Path(name), root_dir, base_url).items
    for line in problems:
        print(line)
    errors = sum(": error: " in line for line in problems)
    print(f"{len(files)} documents, {errors} errors, {len(problems) - errors} warnings")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
