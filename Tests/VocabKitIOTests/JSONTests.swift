import XCTest
import VocabKitIO

final class JSONTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    func syntaxError(_ text: String) -> JSONSyntaxError? {
        do { _ = try parse(text); return nil } catch { return error as? JSONSyntaxError }
    }

    func testValuesKeepOrderAndNumberText() throws {
        let value = try parse(#" {"z": 1e-06, "a": [true, false, null, -0, 12.50], "s": "x\u00e9\ud83d\ude00\n\/"} "#)
        XCTAssertEqual(value.members?.map(\.key), ["z", "a", "s"])
        XCTAssertEqual(value["z"], .number("1e-06"))
        XCTAssertEqual(value["a"], .array([.bool(true), .bool(false), .null, .number("-0"), .number("12.50")]))
        XCTAssertEqual(value["s"]?.stringValue, "xé😀\n/")
        XCTAssertEqual(JSONWriter(pretty: false).text(value), #"{"z":1e-06,"a":[true,false,null,-0,12.50],"s":"xé😀\n/"}"#)
    }

    func testPrettyLayoutMatchesPythonIndentTwo() throws {
        let value = try parse(#"{"a":[1,[]],"b":{},"c":{"d":"\u0001"}}"#)
        XCTAssertEqual(JSONWriter().text(value), "{\n  \"a\": [\n    1,\n    []\n  ],\n  \"b\": {},\n  \"c\": {\n    \"d\": \"\\u0001\"\n  }\n}")
    }

    func testIntegersAreExact() throws {
        XCTAssertEqual(try parse("9223372036854775807").int, Int.max)
        XCTAssertEqual(try parse("-9223372036854775808").int, Int.min)
        XCTAssertNil(try parse("9223372036854775808").int, "overflow is not an Int")
        XCTAssertNil(try parse("1.0").int)
        XCTAssertNil(try parse("1e3").int)
        XCTAssertEqual(try parse("151643").int, 151643)
    }

    /// A bad number is named where it starts, a bad escape at its backslash.
    func testMalformedTextNamesTheOffset() {
        let cases: [(String, Int)] = [
            ("", 0), ("{", 1), (#"{"a":1,}"#, 7), ("[1,]", 3), (#"{"a" 1}"#, 5), ("01", 0), ("1.", 0), ("-", 0), ("1e", 0),
            (#""abc"#, 0), ("\"a\u{1}\"", 2), (#""\x""#, 1), (#""\ud800""#, 1), (#""\udc00""#, 1), (#"{"a":1,"a":2}"#, 7),
            ("tru", 0), ("nul", 0), ("[1] 2", 4), ("{\"a\":1}}", 7), ("\u{FEFF}{}", 0),
        ]
        for (text, offset) in cases {
            guard let error = syntaxError(text) else { XCTFail("accepted \(text.debugDescription)"); continue }
            XCTAssertEqual(error.offset, offset, "\(text.debugDescription): \(error)")
        }
    }

    func testInvalidUTF8InAStringIsRefused() {
        let bytes: [UInt8] = [0x22, 0x61, 0xFF, 0x22]
        XCTAssertThrowsError(try JSONParser.parse(bytes))
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xED, 0xA0, 0x80, 0x22]), "UTF-8 encoded surrogate")
    }

    func testDeepNestingIsAnErrorNotACrash() {
        for opener in ["[", "{\"a\":"] {
            let text = String(repeating: opener, count: 200_000)
            XCTAssertNotNil(syntaxError(text))
        }
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
        XCTAssertNotNil(syntaxError(String(repeating: "[", count: 65) + String(repeating: "]", count: 65)))
    }
}
