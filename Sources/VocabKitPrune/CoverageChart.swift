import Foundation

/// Coverage curves as a standalone SVG: for each count column, the share of its occurrences that the k most
/// used tokens cover, on a logarithmic token axis that runs to the full vocabulary size (marked), so the
/// picture shows how much of the vocabulary a cut leaves. Every text is placed where its box, measured with
/// `TextMetrics`, overlaps no other text or marker and stays inside the picture.
public struct CoverageChart {
    public struct Series {
        public var name: String
        /// Occurrences per id.
        public var counts: [UInt64]
        /// What one occurrence is, for the legend ("tokens", "predictions").
        public var unit: String
        public var color: String

        public init(name: String, counts: [UInt64], unit: String, color: String) {
            self.name = name
            self.counts = counts
            self.unit = unit
            self.color = color
        }
    }

    public var title: String
    public var series: [Series]
    /// The vocabulary's size (the right end of the token axis); nil when unknown.
    public var vocabularySize: Int?
    public var keyPoints: [Double]
    public var width = 720.0
    public var height = 440.0
    public static let fontSize = 12.0
    static let titleFontSize = 15.0

    public init(title: String, series: [Series], vocabularySize: Int?, keyPoints: [Double] = TokenUsage.coverageKeyPoints) {
        self.title = title
        self.series = series
        self.vocabularySize = vocabularySize
        self.keyPoints = keyPoints
    }

    /// A text's bounding box in picture coordinates.
    public struct Box: Equatable {
        public var x, y, width, height: Double

        public init(x: Double, y: Double, width: Double, height: Double) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }

        public func overlaps(_ other: Box) -> Bool {
            x < other.x + other.width && other.x < x + width && y < other.y + other.height && other.y < y + height
        }

        public func isInside(width w: Double, height h: Double) -> Bool { x >= 0 && y >= 0 && x + width <= w && y + height <= h }

        func padded(_ p: Double) -> Box { Box(x: x - p, y: y - p, width: width + 2 * p, height: height + 2 * p) }
    }

    public func svg() -> String {
        let left = 64.0, right = 28.0, top = 44.0, bottom = 78.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let ranked: [[Int]] = series.map { s in TokenSelector.ranked(s.counts, excluding: []) }
        let longest = ranked.map { $0.count }.max() ?? 0
        let maxRank = Double(max(2, vocabularySize ?? 0, longest))
        func x(_ rank: Double) -> Double { left + log10(max(rank, 1)) / log10(maxRank) * plotWidth }
        func y(_ share: Double) -> Double { top + (1 - share) * plotHeight }

        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" \
        font-family="\(TextMetrics.fontFamily)" font-size="\(Int(Self.fontSize))">
        <rect width="100%" height="100%" fill="white"/>

        """
        // What a label must not cover: every text drawn so far, the markers, and the curves and lines.
        var placed: [Box] = []
        var segments: [Segment] = []
        func text(_ s: String, x: Double, y: Double, anchor: TextMetrics.Anchor = .start, size: Double = Self.fontSize,
                  color: String? = nil) {
            placed.append(TextMetrics.box(of: s, x: x, y: y, anchor: anchor, fontSize: size))
            let fill = color.map { " fill=\"\($0)\"" } ?? ""
            let sized = size == Self.fontSize ? "" : " font-size=\"\(Int(size))\""
            out += "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor.rawValue)\"\(sized)\(fill)>\(Self.xmlEscaped(s))</text>\n"
        }
        func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ attributes: String, obstacle: Bool = true) {
            out += "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" \(attributes)/>\n"
            if obstacle { segments.append(Segment(x1: x1, y1: y1, x2: x2, y2: y2)) }
        }

        text(title, x: width / 2, y: 26, anchor: .middle, size: Self.titleFontSize)
        for share in [0.0, 0.25, 0.5, 0.75, 0.9, 1.0] {
            line(left, y(share), left + plotWidth, y(share), "stroke=\"#ddd\"", obstacle: false)
            text("\(Int((share * 100).rounded()))%", x: left - 6, y: y(share) + 4, anchor: .end)
        }
        line(left, top + plotHeight, left + plotWidth, top + plotHeight, "stroke=\"black\"")
        line(left, top, left, top + plotHeight, "stroke=\"black\"")
        var decade = 1.0
        while decade <= maxRank {
            line(x(decade), top + plotHeight, x(decade), top + plotHeight + 4, "stroke=\"black\"")
            text(Self.grouped(Int(decade)), x: x(decade), y: top + plotHeight + 18, anchor: .middle)
            decade *= 10
        }
        text("tokens, most used first (log scale)", x: left + plotWidth / 2, y: top + plotHeight + 38, anchor: .middle)

        // The legend, in a row under the axis.
        var legendX = left
        for (s, ids) in zip(series, ranked) {
            let total = s.counts.reduce(0, &+)
            let label = "\(s.name): \(Self.grouped(total)) \(s.unit), \(Self.grouped(ids.count)) distinct"
            line(legendX, height - 14, legendX + 20, height - 14, "stroke=\"\(s.color)\" stroke-width=\"2\"")
            text(label, x: legendX + 26, y: height - 10)
            legendX += 26 + TextMetrics.width(of: label, fontSize: Self.fontSize) + 24
        }

        // The vocabulary's end: everything right of the curves' ends is never used.
        var vocabularyLine: Double?
        if let vocabularySize, vocabularySize > 0 {
            vocabularyLine = x(Double(vocabularySize))
            line(vocabularyLine!, top, vocabularyLine!, top + plotHeight, "stroke=\"#555\" stroke-dasharray=\"4 3\"")
        }

        // Curves, and their key points as markers.
        var labels: [(text: String, point: (x: Double, y: Double), color: String)] = []
        for (s, ids) in zip(series, ranked) {
            let total = Double(max(s.counts.reduce(0, &+), 1))
            var points: [(Double, Double)] = []
            var sum: UInt64 = 0, lastX = -1.0
            for (index, id) in ids.enumerated() {
                sum += s.counts[id]
                let px = x(Double(index + 1))
                if px - lastX >= 0.5 || index == ids.count - 1 {
                    points.append((px, y(Double(sum) / total)))
                    lastX = px
                }
            }
            guard !points.isEmpty else { continue }
            out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\" points=\""
                + points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ") + "\"/>\n"
            for (a, b) in zip(points, points.dropFirst()) { segments.append(Segment(x1: a.0, y1: a.1, x2: b.0, y2: b.1)) }
            let usage = TokenUsage(counts: s.counts, pieces: [:], files: 0, bytes: 0, vocabularySource: "")
            for (fraction, k) in zip(keyPoints, usage.tokensCovering(keyPoints, ranked: ids)) where k > 0 {
                let point = (x: x(Double(k)), y: y(fraction))
                out += "<circle cx=\"\(f(point.x))\" cy=\"\(f(point.y))\" r=\"3\" fill=\"\(s.color)\"/>\n"
                placed.append(Box(x: point.x - 3, y: point.y - 3, width: 6, height: 6))
                labels.append(("\(TokenUsage.percent(fraction))%: \(Self.grouped(k))", point, s.color))
            }
        }

        if let vocabularySize, let vx = vocabularyLine {
            let label = "vocabulary: \(Self.grouped(vocabularySize))"
            let candidates = stride(from: top + 14, to: top + plotHeight, by: 7).flatMap { [(vx - 4, $0, TextMetrics.Anchor.end), (vx + 4, $0, .start)] }
            if let spot = firstFree(label, candidates, avoiding: placed, segments: segments) {
                text(label, x: spot.x, y: spot.y, anchor: spot.anchor)
            }
        }

        // Key point labels: the free spot nearest to the point (first right of it and below, where a rising
        // curve is not; then left and above), with a leader line when it had to move away.
        for label in labels {
            var candidates: [(Double, Double, TextMetrics.Anchor)] = []
            for step in 0..<Int(height / 7) {
                let below = label.point.y + 14 + 7 * Double(step), above = label.point.y - 6 - 7 * Double(step)
                candidates += [(label.point.x + 6, below, .start), (label.point.x - 6, above, .end),
                               (label.point.x + 6, above, .start), (label.point.x - 6, below, .end)]
            }
            guard let spot = firstFree(label.text, candidates, avoiding: placed, segments: segments) else { continue }
            let box = TextMetrics.box(of: label.text, x: spot.x, y: spot.y, anchor: spot.anchor, fontSize: Self.fontSize)
            if abs(spot.y - label.point.y) > 16 {
                let edgeX = spot.anchor == .start ? box.x : box.x + box.width
                let edgeY = min(max(label.point.y, box.y), box.y + box.height)
                line(label.point.x, label.point.y, edgeX, edgeY, "stroke=\"\(label.color)\" stroke-width=\"0.5\"")
            }
            text(label.text, x: spot.x, y: spot.y, anchor: spot.anchor, color: label.color)
        }
        return out + "</svg>\n"
    }

    /// A straight line drawn on the chart, which no label may cross.
    struct Segment {
        var x1, y1, x2, y2: Double

        /// Whether the segment passes through `box` (Liang–Barsky clipping).
        func crosses(_ box: Box) -> Bool {
            let dx = x2 - x1, dy = y2 - y1
            var t0 = 0.0, t1 = 1.0
            for (p, q) in [(-dx, x1 - box.x), (dx, box.x + box.width - x1), (-dy, y1 - box.y), (dy, box.y + box.height - y1)] {
                if p == 0 {
                    if q < 0 { return false }
                } else {
                    let t = q / p
                    if p < 0 { t0 = max(t0, t) } else { t1 = min(t1, t) }
                    if t0 > t1 { return false }
                }
            }
            return true
        }
    }

    /// The first candidate (x, baseline y, anchor) whose box, with a small gap, is inside the picture and clear of
    /// `taken` boxes and `segments`.
    private func firstFree(_ s: String, _ candidates: [(Double, Double, TextMetrics.Anchor)], avoiding taken: [Box], segments: [Segment])
        -> (x: Double, y: Double, anchor: TextMetrics.Anchor)? {
        for (x, y, anchor) in candidates {
            let box = TextMetrics.box(of: s, x: x, y: y, anchor: anchor, fontSize: Self.fontSize).padded(2)
            guard box.isInside(width: width, height: height) else { continue }
            if !taken.contains(where: { $0.overlaps(box) }) && !segments.contains(where: { $0.crosses(box) }) { return (x, y, anchor) }
        }
        return nil
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// 151936 as "151,936".
    public static func grouped(_ n: some BinaryInteger) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func xmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// How much room a line of SVG text takes, measured with DejaVu Sans (the default sans-serif on Linux and one of
/// the widest common ones: a box that fits it fits Arial, Helvetica and Liberation Sans too).
public enum TextMetrics {
    public enum Anchor: String { case start, middle, end }

    /// The font the chart asks for, DejaVu Sans first so that the measured widths are the drawn ones.
    public static let fontFamily = "DejaVu Sans, Verdana, Arial, sans-serif"

    /// Advance widths of ASCII 32...126 in DejaVu Sans 2.37, in font units of 2048 per em (read from the
    /// font's hmtx table by Scripts/font_widths.py).
    static let asciiAdvances: [UInt16] = [
        651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303,
        1303, 1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178,
        1587, 1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251,
        1403, 799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995,
        1298, 1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
    ]
    /// DejaVu Sans's ascent and descent (hhea), in ems.
    static let ascent = 1901.0 / 2048, descent = 483.0 / 2048

    /// Width of `text` at `fontSize` pixels; characters outside ASCII count as a full em (wider than any of them
    /// in DejaVu Sans's Latin, Greek and symbol ranges).
    public static func width(of text: String, fontSize: Double) -> Double {
        var units = 0.0
        for scalar in text.unicodeScalars {
            let v = Int(scalar.value)
            units += (32...126).contains(v) ? Double(asciiAdvances[v - 32]) : 2048
        }
        return units / 2048 * fontSize
    }

    /// The box of `text` drawn at (x, baseline y) with `anchor`.
    public static func box(of text: String, x: Double, y: Double, anchor: Anchor, fontSize: Double) -> CoverageChart.Box {
        let w = width(of: text, fontSize: fontSize)
        let left: Double
        switch anchor {
        case .start: left = x
        case .middle: left = x - w / 2
        case .end: left = x - w
        }
        return CoverageChart.Box(x: left, y: y - ascent * fontSize, width: w, height: (ascent + descent) * fontSize)
    }
}
