//! The sweep's plot: lifecycles/s and place-order p99 against concurrency, as an SVG.

use super::Report;

/// Draw lifecycles/s and place-order p99 against concurrency as an SVG line chart.
pub fn plot_svg(reports: &[Report]) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 360.0, 60.0, 70.0, 40.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let n = reports.len().max(1);
    let x = |i: usize| {
        left + if n == 1 {
            pw / 2.0
        } else {
            pw * i as f64 / (n - 1) as f64
        }
    };
    let max_tp = reports
        .iter()
        .map(|r| r.lifecycles_per_sec)
        .fold(1.0, f64::max)
        * 1.15;
    let max_p99 = reports.iter().map(|r| r.place_p99_ms).fold(1.0, f64::max) * 1.15;
    let y_tp = |v: f64| top + ph - ph * v / max_tp;
    let y_p99 = |v: f64| top + ph - ph * v / max_p99;
    let line = |y: &dyn Fn(&Report) -> f64| {
        reports
            .iter()
            .enumerate()
            .map(|(i, r)| format!("{:.1},{:.1}", x(i), y(r)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{cx}" y="20" text-anchor="middle" font-size="14">baedal loadgen: throughput and place-order p99 by concurrency</text>
<line x1="{left}" y1="{yb}" x2="{xr}" y2="{yb}" stroke="black"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{yb}" stroke="#1f77b4"/>
<line x1="{xr}" y1="{top}" x2="{xr}" y2="{yb}" stroke="#d62728"/>
<text x="14" y="{cy}" fill="#1f77b4" transform="rotate(-90 14 {cy})" text-anchor="middle">lifecycles/s</text>
<text x="{xr2}" y="{cy}" fill="#d62728" transform="rotate(90 {xr2} {cy})" text-anchor="middle">place-order p99 (ms)</text>
<text x="{cx}" y="{xl}" text-anchor="middle">concurrency</text>
"##,
        cx = w / 2.0,
        yb = top + ph,
        xr = left + pw,
        xr2 = w - 16.0,
        cy = top + ph / 2.0,
        xl = h - 12.0,
    );
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let yy = top + ph - ph * f;
        svg += &format!(
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1f77b4\">{:.1}</text>\n<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">{:.0}</text>\n",
            left + pw,
            left - 6.0,
            yy + 4.0,
            max_tp * f,
            left + pw + 6.0,
            yy + 4.0,
            max_p99 * f
        );
    }
    for (i, r) in reports.iter().enumerate() {
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#1f77b4\"/>\n<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#d62728\"/>\n",
            x(i),
            top + ph + 18.0,
            r.concurrency,
            x(i),
            y_tp(r.lifecycles_per_sec),
            x(i),
            y_p99(r.place_p99_ms)
        );
    }
    svg += &format!(
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"6 4\" points=\"{}\"/>\n</svg>\n",
        line(&|r| y_tp(r.lifecycles_per_sec)),
        line(&|r| y_p99(r.place_p99_ms))
    );
    svg
}
