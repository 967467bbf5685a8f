import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import VocabKitTestSupport
import XCTest
@testable import VocabKitPrune

/// `count --svg`: the picture is rendered, parsed back as XML, and every text's box (measured with DejaVu Sans,
/// the widest common sans-serif, at its font size and anchor) must stay inside the picture and clear of every
/// other text.
final class CoverageChartTests: XCTestCase {
    struct Text { let content: String; let box: CoverageChart.Box; let fill: String? }
    struct Parsed {
        var width = 0.0, height = 0.0
        var texts: [Text] = []
        var polylines: [(stroke: String, points: Int)] = []
        var dashedLines: [(x: Double, y1: Double, y2: Double)] = []
    }

    /// Parses the SVG as XML (a malformed picture fails here) and measures each text.
    final class SVGReader: NSObject, XMLParserDelegate {
        var parsed = Parsed()
        private var fontSize = 12.0
        private var open: [String: String]?
        private var content = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            switch name {
            case "svg":
                parsed.width = Double(attributes["width"] ?? "") ?? 0
                parsed.height = Double(attributes["height"] ?? "") ?? 0
                fontSize = Double(attributes["font-size"] ?? "") ?? 12
            case "text":
                open = attributes
                content = ""
            case "polyline":
                parsed.polylines.append((attributes["stroke"] ?? "", (attributes["points"] ?? "").split(separator: " ").count))
            case "line" where attributes["stroke-dasharray"] != nil:
                if let x = Double(attributes["x1"] ?? ""), let y1 = Double(attributes["y1"] ?? ""), let y2 = Double(attributes["y2"] ?? "") {
                    parsed.dashedLines.append((x, y1, y2))
                }
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { if open != nil { content += string } }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard name == "text", let attributes = open else { return }
            let size = Double(attributes["font-size"] ?? "") ?? fontSize
            let anchor = TextMetrics.Anchor(rawValue: attributes["text-anchor"] ?? "start") ?? .start
            let box = TextMetrics.box(of: content, x: Double(attributes["x"] ?? "") ?? .nan, y: Double(attributes["y"] ?? "") ?? .nan,
                                      anchor: anchor, fontSize: size)
            parsed.texts.append(Text(content: content, box: box, fill: attributes["fill"]))
            open = nil
        }
    }

    func parse(_ svg: String, file: StaticString = #filePath, line: UInt = #line) throws -> Parsed {
        let parser = XMLParser(data: Data(svg.utf8))
        let reader = SVGReader()
        parser.delegate = reader
        XCTAssertTrue(parser.parse(), "the SVG is well-formed XML: \(parser.parserError.map { "\($0)" } ?? "")", file: file, line: line)
        return reader.parsed
    }

    /// No two texts overlap and none leaves the picture.
    func assertLegible(_ parsed: Parsed, _ context: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(parsed.texts.count, 5, file: file, line: line)
        for (i, a) in parsed.texts.enumerated() {
            XCTAssertTrue(a.box.isInside(width: parsed.width, height: parsed.height), "\(context): '\(a.content)' at \(a.box) is clipped",
                          file: file, line: line)
            for b in parsed.texts[(i + 1)...] where a.box.overlaps(b.box) {
                XCTFail("\(context): '\(a.content)' \(a.box) overlaps '\(b.content)' \(b.box)", file: file, line: line)
            }
        }
    }

    /// A realistic case, the one that used to fail: the 99 %, 99.9 % and 99.99 % points a few tokens apart at
    /// the right end of the axis, for two curves, and the vocabulary size far beyond them.
    func testTwoCurvesCrowdedKeyPointsStayLegible() throws {
        var rng = SplitMix64(seed: 14)
        func zipf(_ n: Int, exponent: Double, total: Double) -> [UInt64] {
            (0..<n).map { rank in UInt64(max(1, total / pow(Double(rank + 1), exponent) * (0.9 + 0.2 * Double(rng.next() % 1000) / 1000))) }
        }
        var usage = TokenUsage(counts: zipf(23_322, exponent: 1.1, total: 200_000), pieces: [:], files: 1, bytes: 1, vocabularySource: "v")
        usage.vocabularySize = 151_936
        usage.predicted = UsageColumn(name: TokenUsage.predictedColumnName, values: zipf(9_000, exponent: 1.3, total: 5_000).reversed())
        let parsed = try parse(usage.coverageSVG())
        assertLegible(parsed, "crowded")
        XCTAssertEqual(parsed.polylines.map(\.stroke), ["#1f77b4", "#d95f02"], "the corpus and the predicted curve")
        XCTAssertTrue(parsed.polylines.allSatisfy { $0.points > 50 })
        // Every key point of both curves is labelled, in its curve's colour.
        for fraction in TokenUsage.coverageKeyPoints {
            let prefix = TokenUsage.percent(fraction) + "%: "
            XCTAssertEqual(parsed.texts.filter { $0.content.hasPrefix(prefix) }.map(\.fill).sorted { ($0 ?? "") < ($1 ?? "") },
                           ["#1f77b4", "#d95f02"], prefix)
        }
        XCTAssertTrue(parsed.texts.contains { $0.content == "99.99%: " + CoverageChart.grouped(usage.tokensCovering(0.9999)) })
        // The vocabulary's size is marked at the right end of the token axis, labelled.
        XCTAssertTrue(parsed.texts.contains { $0.content == "vocabulary: 151,936" })
        XCTAssertEqual(parsed.dashedLines.count, 1)
        let axisEnd = parsed.width - 28
        XCTAssertEqual(parsed.dashedLines[0].x, axisEnd, accuracy: 0.1, "the axis runs to the vocabulary size")
        XCTAssertTrue(parsed.texts.contains { $0.content == "100,000" }, "decade ticks up to the vocabulary")
    }

    /// Tables of every shape (tiny, one token, heavy heads, long tails, with and without a predicted column and
    /// a vocabulary size) give legible pictures.
    func testRandomTablesStayLegible() throws {
        var rng = SplitMix64(seed: 1414)
        for trial in 0..<60 {
            let used = [1, 2, 3, 10, 150, 3_000, 40_000][Int(rng.next() % 7)]
            let heavy = rng.next() % 2 == 0
            var counts = [UInt64](repeating: 0, count: used + Int(rng.next() % 50))
            for id in 0..<used { counts[id] = heavy ? UInt64(1_000_000 / (id + 1)) + rng.next() % 3 : 1 + rng.next() % 20 }
            var usage = TokenUsage(counts: counts, pieces: [:], files: 1, bytes: 1, vocabularySource: "v")
            if rng.next() % 3 != 0 { usage.vocabularySize = [counts.count, 151_936, 262_144][Int(rng.next() % 3)] }
            if rng.next() % 2 == 0 {
                let n = 1 + Int(rng.next() % 5_000)
                usage.predicted = UsageColumn(name: TokenUsage.predictedColumnName, values: (0..<n).map { _ in rng.next() % 5 == 0 ? 0 : 1 + rng.next() % 900 })
            }
            let parsed = try parse(usage.coverageSVG(title: "Token coverage <&> \(trial)"))
            assertLegible(parsed, "trial \(trial), \(used) tokens")
            let keyLabels = parsed.texts.filter { $0.content.contains("%: ") }.count
            let expected = (usage.tokens > 0 ? 4 : 0) + ((usage.predicted?.total ?? 0) > 0 ? 4 : 0)
            XCTAssertEqual(keyLabels, expected, "trial \(trial): every key point is labelled")
        }
    }

    func testGroupedNumbersAndMetrics() {
        XCTAssertEqual(CoverageChart.grouped(151_936), "151,936")
        XCTAssertEqual(CoverageChart.grouped(999), "999")
        XCTAssertEqual(CoverageChart.grouped(1_000_000), "1,000,000")
        // DejaVu Sans: digits 1303/2048 em, '%' 1946, space 651.
        XCTAssertEqual(TextMetrics.width(of: "0%", fontSize: 2048), 1303 + 1946)
        XCTAssertEqual(TextMetrics.width(of: "é", fontSize: 2048), 2048, "outside ASCII: a full em")
        let box = TextMetrics.box(of: "00", x: 100, y: 50, anchor: .end, fontSize: 12)
        XCTAssertEqual(box.x + box.width, 100, accuracy: 1e-9)
        XCTAssertLessThan(box.y, 50)
        XCTAssertGreaterThan(box.y + box.height, 50, "the box reaches below the baseline (descenders)")
    }
}
