// The README is a front page and docs/ holds the rest: every relative link in
// README.md and docs/*.md points at a file that exists, and the README stays short.
import { assert } from "./_helpers/assert.ts";
import { ROOT } from "./_helpers/common.ts";

/** The markdown files the links are read from: README.md and every docs/*.md. */
function pages(): string[] {
  const docs = [...Deno.readDirSync(`${ROOT}docs`)]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => `docs/${e.name}`);
  return ["README.md", ...docs.sort()];
}

/** The relative link targets of a markdown text: `[text](target)` and `![alt](target)`, outside code. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  const found: string[] = [];
  for (const m of prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("#")) continue;
    found.push(target);
  }
  return found;
}

Deno.test("the link reader finds relative links and skips code, anchors and URLs", () => {
  const text = "[a](docs/a.md) ![p](x.png#frag) [w](https://example.org) [h](#top)\n" +
    "`[c](in-code.md)`\n```\n[d](in-block.md)\n```\n";
  const links = relativeLinks(text);
  assert(
    JSON.stringify(links) === JSON.stringify(["docs/a.md", "x.png#frag"]),
    `found ${JSON.stringify(links)}`,
  );
});

Deno.test("every relative link in README.md and docs/*.md points at an existing file", () => {
  const broken: string[] = [];
  let count = 0;
  for (const page of pages()) {
    const base = new URL(page, `file://${ROOT}`);
    for (const link of relativeLinks(Deno.readTextFileSync(`${ROOT}${page}`))) {
      count++;
      const path = decodeURIComponent(new URL(link.replace(/#.*$/, ""), base).pathname);
      try {
        Deno.statSync(path);
      } catch {
        broken.push(`${page}: ${link}`);
      }
    }
  }
  assert(count > 10, `only ${count} relative links read: the reader is broken`);
  assert(broken.length === 0, `links to nothing:\n${broken.join("\n")}`);
});

Deno.test("the README is a front page: under 250 lines, linking into docs/", () => {
  const readme = Deno.readTextFileSync(`${ROOT}README.md`);
  const lines = readme.split("\n").length;
  assert(lines < 250, `README.md has ${lines} lines: move the detail into docs/`);
  assert(relativeLinks(readme).filter((l) => l.startsWith("docs/")).length >= 5, "docs linked");
});
