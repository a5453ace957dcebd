// The body sanitiser against an XSS corpus and real Word / Google Docs pastes.
import assert from "node:assert/strict";
import Handlebars from "handlebars";
import { sanitizeHtmlBody } from "./sanitize.ts";
import { installMergeHelpers } from "./merge_fields.ts";

// Each must come out without anything that runs: no script, handler, javascript:/vbscript:,
// non-image data: URL, frame, object, form or SVG.
const XSS_CORPUS = [
  "<script>alert(1)</script>",
  "<SCRIPT SRC=//x.example/x.js></SCRIPT>",
  '<img src="x" onerror="alert(1)">',
  "<img src=x onerror=alert(1)//",
  '<IMG SRC="jav&#x09;ascript:alert(1);">',
  "<img src=javascript:alert(1)>",
  '<a href="javascript:alert(1)">x</a>',
  '<a href="JaVaScRiPt:alert(1)">x</a>',
  '<a href=" &#14;  javascript:alert(1)">x</a>',
  '<a href="vbscript:msgbox(1)">x</a>',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
  "<svg onload=alert(1)>",
  "<svg><script>alert(1)</script></svg>",
  '<body onload="alert(1)">',
  '<iframe src="https://evil.example"></iframe>',
  '<object data="x.swf"></object><embed src="x.swf">',
  '<form action="https://evil.example"><input name="p"><button>go</button></form>',
  '<div style="background:url(javascript:alert(1))">x</div>',
  '<div style="width: expression(alert(1))">x</div>',
  '<p style="behavior: url(x.htc)">x</p>',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<link rel="stylesheet" href="https://evil.example/x.css">',
  "<style>@import 'https://evil.example/x.css';</style>",
  '<base href="https://evil.example/">',
  '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
  '<a href="#" onmouseover="alert(1)">x</a>',
  "<details open ontoggle=alert(1)>",
  "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
  "<!--<img src=x onerror=alert(1)>-->",
  '<p title="</p><script>alert(1)</script>">x</p>',
  "{{{payload}}}",
  // Merge tags restored after sanitising must not reopen what the sanitiser closed.
  `<p title="{{x default='" onmouseover="alert(1)'}}">x</p>`,
  `<a href="{{x default='javascript:alert(1)'}}">x</a>`,
  `<a href='{{x default=" onmouseover=alert(1) "}}'>x</a>`,
];

const DANGER =
  /<script|<svg|<iframe|<object|<embed|<form|<input|<meta|<link|<base|<style|<math|\son\w+\s*=|javascript:|vbscript:|data:(?!image\/(png|jpe?g|gif|webp);)|expression\(|url\(|\{\{\{/i;

Deno.test("sanitizeHtmlBody() leaves nothing executable from the XSS corpus", () => {
  for (const input of XSS_CORPUS) {
    const out = sanitizeHtmlBody(input);
    assert.doesNotMatch(out, DANGER, `${input}\n→ ${out}`);
  }
});

Deno.test("sanitizeHtmlBody() checks URLs made of merge fields per recipient; drops others", () => {
  const out = sanitizeHtmlBody(
    '<a href="{{website}}">site</a><img src="{{ photo }}"><a href="https://u.example/?id={{id}}">ok</a>' +
      '<a href="java{{x}}">a</a><a href="https://{{host}}/x">b</a><a href="mailto:{{email}}">c</a>',
  );
  assert.equal(
    out,
    '<a href="{{safe_url website}}">site</a><img src="{{safe_url photo}}" />' +
      '<a href="https://u.example/?id={{id}}">ok</a><a>a</a><a>b</a><a href="mailto:{{email}}">c</a>',
  );
  assert.equal(sanitizeHtmlBody(out), out, "sanitising twice changes nothing");
});

/** Sanitises, then renders as the send core does, with hostile recipient and feed data. */
function render(body: string, data: Record<string, unknown>): string {
  const hb = Handlebars.create();
  installMergeHelpers(hb);
  return hb.compile(sanitizeHtmlBody(body))(data);
}

Deno.test("no javascript: URL reaches the mail through merge data, however the body is written", () => {
  const evil = "javascript:alert(document.domain)";
  const data = {
    link: evil,
    title: evil,
    x: "script:alert(1)",
    rss: { news: { title: evil, items: [{ link: evil, title: evil }] } },
  };
  const bodies = [
    '<a href="{{link}}">a</a>',
    '{{! {{#each rss.news.items}} }}<a href="{{link}}">a</a>{{! {{/each}} }}',
    '{{!-- {{#each rss.news.items}} --}}<a href="{{link}}">a</a>',
    '\\{{#each rss.news.items}}<a href="{{link}}">a</a>\\{{/each}}',
    '{{#each rss.news.items}}{{#with @root}}<a href="{{link}}">a</a>{{/with}}{{/each}}',
    '{{#each rss.news.items}}<a href="{{title}}">t</a><a href="{{this.link}}">l</a>{{/each}}',
    '{{#with rss.news}}<a href="{{title}}">t</a>{{/with}}',
    '<a href="java{{x}}">a</a>',
    '<img src="{{link}}">',
  ];
  for (const body of bodies) {
    const html = render(body, data);
    assert.doesNotMatch(html, /javascript:|href="[^"h#m]/i, `${body}\n→ ${html}`);
  }
  // A real URL in the data still comes through.
  assert.match(
    render('{{#each rss.news.items}}<a href="{{link}}">x</a>{{/each}}', {
      rss: { news: { items: [{ link: "https://uni.example/news/1?a=1&b=2" }] } },
    }),
    // Handlebars escapes = and & in the value; a browser reads them back as written.
    /href="https:\/\/uni\.example\/news\/1\?a&#x3D;1&amp;b&#x3D;2"/,
  );
});

Deno.test("sanitizeHtmlBody() keeps ordinary formatting, links, images and merge tags", () => {
  const input = '<h2>News</h2><p style="color: #333; text-align: center">Hej ' +
    '{{firstname default="vän"}}, <strong>read</strong> <a href="https://uni.example/a?b=1&amp;c=2">' +
    'this</a>.</p><ul><li>one</li></ul><img src="https://uni.example/x.png" alt="logo" width="100">' +
    '<img src="data:image/png;base64,iVBORw0KGgo="><a href="{{unsubscribe_url}}">Unsubscribe</a>' +
    '<a href="mailto:info@uni.example">mail</a>';
  assert.equal(
    sanitizeHtmlBody(input),
    '<h2>News</h2><p style="color:#333;text-align:center">Hej {{firstname default="vän"}}, ' +
      '<strong>read</strong> <a href="https://uni.example/a?b=1&amp;c=2">this</a>.</p>' +
      '<ul><li>one</li></ul><img src="https://uni.example/x.png" alt="logo" width="100" />' +
      '<img src="data:image/png;base64,iVBORw0KGgo=" /><a href="{{unsubscribe_url}}">Unsubscribe</a>' +
      '<a href="mailto:info@uni.example">mail</a>',
  );
});

Deno.test("sanitizeHtmlBody() cleans a Word paste: mso- styles, o:p, classes, conditional comments", () => {
  const word = `<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<style>p.MsoNormal{mso-style-parent:"";margin:0cm}</style></head><body>
<!--[if gte mso 9]><xml><w:WordDocument><w:View>Normal</w:View></w:WordDocument></xml><![endif]-->
<p class="MsoNormal" style="mso-margin-top-alt:auto;margin-bottom:12pt;mso-line-height-rule:exactly"><span lang="SV" style="font-size:12.0pt;mso-fareast-font-family:&quot;Times New Roman&quot;">Hej alla<o:p></o:p></span></p>
</body></html>`;
  const out = sanitizeHtmlBody(word);
  assert.doesNotMatch(out, /mso-|MsoNormal|o:p|WordDocument|Normal<|<!--|class=/);
  assert.match(
    out,
    /<p style="margin-bottom:12pt"><span lang="SV" style="font-size:12.0pt">Hej alla<\/span><\/p>/,
  );
});

Deno.test("sanitizeHtmlBody() unwraps Google Docs' fake bold wrapper but keeps real bold", () => {
  const docs =
    '<meta charset="utf-8"><b style="font-weight:normal;" id="docs-internal-guid-12ab">' +
    '<p dir="ltr"><span style="font-size:11pt;font-weight:700;white-space:pre-wrap;">Bold</span></p></b>' +
    "<b>real</b>";
  assert.equal(
    sanitizeHtmlBody(docs),
    '<span><p dir="ltr"><span style="font-size:11pt;font-weight:700">Bold</span></p></span><b>real</b>',
  );
});
