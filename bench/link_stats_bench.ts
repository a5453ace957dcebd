// Run: deno bench -A bench/link_stats_bench.ts — the link_stats plugin's costs: labelling a
// send's links (its transformTemplate hook, once per send, never per message) and reading the
// labels back from the frozen content (once per statistics page or API call).
import { labelLinks, labelOf } from "../plugins/link_stats/label.ts";
import { trackedAnchors } from "../core/feedback/tracking.ts";

const links = Array.from(
  { length: 10 },
  (_, i) => `<a href="https://www.uni.example/n/${i}"><b>Läs mer</b> om ${i}</a>`,
);
const para = "<p>Hej {{firstname}}! Lorem ipsum dolor sit amet, consectetur adipiscing elit. </p>";
const html = `<html><body>${para.repeat(150)}${links.join(" · ")}</body></html>`;
const labelled = labelLinks(html);

Deno.bench(`label the links of a send (${(html.length / 1024).toFixed(1)} KB, 10 links)`, () => {
  labelLinks(html);
});

Deno.bench("read the links and labels back from the frozen content", () => {
  for (const a of trackedAnchors(labelled)) labelOf(a.attributes);
});
