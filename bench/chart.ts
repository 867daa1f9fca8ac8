/**
 * A small SVG line chart, written by hand so the bench needs no charting library: one line per
 * series over the same x values, evenly spaced (the bench's sizes grow by steps, so a log-like axis
 * labelled with the real values), a y axis from 0 with round ticks, and a legend.
 * @module
 */

/** One line of a chart. */
export interface Series {
  name: string;
  /** One y value per x value of the chart; NaN leaves a gap (a size that was not measured). */
  values: number[];
}

/** What a chart shows. */
export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  /** The x values, in order; they label the evenly spaced points. */
  x: number[];
  series: Series[];
}

const WIDTH = 780;
const HEIGHT = 360;
const PAD = { left: 78, right: 250, top: 40, bottom: 52 };
/** Colour-blind-safe colours (Okabe–Ito), in series order. */
const COLOURS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"];

/** A round step that gives about five ticks up to `max`. */
function tickStep(max: number): number {
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return step ?? power * 10;
}

/** A number as an axis label: 1.2M, 350k, 4.5, 0.25. */
export function shortNumber(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${+(n / 1e3).toFixed(1)}k`;
  if (n >= 100) return String(Math.round(n));
  return String(+n.toFixed(2));
}

const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The chart as a standalone SVG document. */
export function lineChart(spec: ChartSpec): string {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const finite = spec.series.flatMap((s) => s.values.filter(Number.isFinite));
  const step = tickStep(Math.max(...finite, 1e-9));
  const top = Math.max(step, Math.ceil(Math.max(...finite, 0) / step) * step);
  const px = (i: number) => PAD.left + (spec.x.length === 1 ? plotW / 2 : (i / (spec.x.length - 1)) * plotW);
  const py = (v: number) => PAD.top + plotH - (v / top) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${PAD.left}" y="22" font-size="14" font-weight="bold">${escape(spec.title)}</text>`,
  ];
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = py(v).toFixed(1);
    out.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${shortNumber(v)}</text>`);
  }
  spec.x.forEach((x, i) => out.push(`<text x="${px(i).toFixed(1)}" y="${PAD.top + plotH + 18}" text-anchor="middle">${x.toLocaleString("en-US")}</text>`));
  out.push(`<line x1="${PAD.left}" x2="${PAD.left + plotW}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${PAD.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">${escape(spec.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(spec.yLabel)}</text>`);
  spec.series.forEach((s, k) => {
    const colour = COLOURS[k % COLOURS.length];
    const points = s.values.map((v, i) => (Number.isFinite(v) ? `${px(i).toFixed(1)},${py(v).toFixed(1)}` : "")).filter((p) => p !== "");
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(" ")}"/>`);
    for (const p of points) {
      const [cx, cy] = p.split(",");
      out.push(`<circle cx="${cx}" cy="${cy}" r="3.5" fill="${colour}"/>`);
    }
    const ly = PAD.top + 10 + k * 20;
    out.push(`<line x1="${WIDTH - PAD.right + 16}" x2="${WIDTH - PAD.right + 36}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="2"/>`);
    out.push(`<text x="${WIDTH - PAD.right + 42}" y="${ly}" dominant-baseline="middle">${escape(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
