import Foundation
import VocabKitGGUF
import VocabKitInference
import VocabKitTestSupport
import XCTest

/// `compare`'s scorecard: its parts on their own, and the command against `eval` and `generate` run separately.
final class CompareTests: XCTestCase {
    var folder = ""
    let text = TestData.repositoryRoot.appendingPathComponent("Corpora/sample/colorsys.py").path

    override func setUpWithError() throws { folder = try temporaryFolder(name, testCase: self) }

    func testQuestionFiles() throws {
        let parsed = try ScorecardQuestion.parse(tsv: "# comment\r\nCapital of France?\tParis\r\n\n  \nSix?\t6 | six |\n", source: "q.tsv")
        XCTAssertEqual(parsed, [ScorecardQuestion(question: "Capital of France?", answers: ["Paris"]),
                                ScorecardQuestion(question: "Six?", answers: ["6", "six"])])
        XCTAssertTrue(parsed[0].accepts("The capital is PARIS."))
        XCTAssertTrue(parsed[1].accepts("It has Six sides"))
        XCTAssertFalse(parsed[0].accepts("Lyon"))
        for (bad, line) in [("a question without answers\n", 1), ("ok\tyes\n\tno question\n", 2), ("q\t | \n", 1)] {
            XCTAssertThrowsError(try ScorecardQuestion.parse(tsv: bad, source: "q.tsv")) { error in
                XCTAssertEqual((error as? ScorecardError)?.line, line, "\(bad.debugDescription): \(error)")
                XCTAssertTrue("\(error)".hasPrefix("q.tsv:\(line): "), "\(error)")
            }
        }
        XCTAssertThrowsError(try ScorecardQuestion.parse(tsv: "# only comments\n", source: "q.tsv"))
        let shipped = try String(contentsOf: TestData.repositoryRoot.appendingPathComponent("Corpora/scorecard/questions.tsv"), encoding: .utf8)
        XCTAssertGreaterThanOrEqual(try ScorecardQuestion.parse(tsv: shipped, source: "questions.tsv").count, 17)
    }

    func testRepetition() {
        let r = Repetition("a b c d a b c d")   // 4-grams: abcd bcda cdab dabc abcd
        XCTAssertEqual(r.total, 5)
        XCTAssertEqual(r.repeated, 1)
        XCTAssertEqual(r.ratio, 0.2)
        XCTAssertEqual(Repetition("x x x x x x").repeated, 2)
        XCTAssertEqual(Repetition("one two three").total, 0)
        XCTAssertEqual(Repetition("one two three").ratio, 0)
        XCTAssertEqual(Repetition("a\nb\tc  d").total, 1, "any whitespace separates words")
        var sum = Repetition("a b c d a b c d")
        sum.add(Repetition("x x x x x x"))
        XCTAssertEqual(sum.repeated, 3)
        XCTAssertEqual(sum.total, 8)
    }

    /// A synthetic model with a ChatML template (synth writes none), and the same with its last block deleted.
    func models() throws -> (String, String) {
        let plain = folder + "/plain.gguf"
        let r = try CLI.run(["synth", "--arch", "qwen3", "--type", "Q8_0", "--dim", "64", "--layers", "3", "--heads", "4",
                             "--kv-heads", "2", "--ffn", "128", "-o", plain])
        XCTAssertEqual(r.status, 0, r.stderr)
        let file = try GGUFFile(path: plain)
        let chat = folder + "/chat.gguf"
        let template = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}"
        var metadata = file.metadataForWriting
        metadata.append(("tokenizer.chat_template", .value(.string(template))))
        try GGUFWriter.write(to: chat, metadata: metadata,
                             tensors: file.tensors.map { GGUFOutputTensor.copying($0, from: file) })
        let deleted = folder + "/chat-deleted.gguf"
        XCTAssertEqual(try CLI.run(["surgery", chat, "--delete", "2", "-o", deleted]).status, 0)
        return (chat, deleted)
    }

    func testCompareAgreesWithEvalAndGenerate() throws {
        try skipSlowInDebug()
        let (chat, deleted) = try models()
        let questions = folder + "/q.tsv", prompts = folder + "/p.txt"
        try "What is 2+2?\t4|four\nName a colour.\tred|blue|green\n".write(toFile: questions, atomically: true, encoding: .utf8)
        try "def f(x):\\n    return\nThe sky is\n".write(toFile: prompts, atomically: true, encoding: .utf8)
        let r = try CLI.run(["compare", chat, deleted, "--file", text, "--ctx", "64", "--chunks", "3", "--questions", questions,
                             "--prompts", prompts, "--answer-tokens", "6", "-n", "12", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdoutBytes) as? [String: Any])
        let rows = try XCTUnwrap(doc["models"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["blocks"] as? Int }, [3, 2])
        for (path, row) in zip([chat, deleted], rows) {
            XCTAssertEqual(row["model"] as? String, path)
            XCTAssertEqual(row["chat_format"] as? String, "chatml")
            let eval = try CLI.run(["eval", path, "--file", text, "--ctx", "64", "--chunks", "3", "--json"])
            let e = try XCTUnwrap(try JSONSerialization.jsonObject(with: eval.stdoutBytes) as? [String: Any])
            XCTAssertEqual(row["perplexity"] as? Double, e["perplexity"] as? Double)
            XCTAssertEqual(row["bits_per_byte"] as? Double, e["bits_per_byte"] as? Double)
            let answers = try XCTUnwrap(row["answers"] as? [[String: Any]])
            XCTAssertEqual(answers.count, 2)
            for (answer, question) in zip(answers, ["What is 2+2?", "Name a colour."]) {
                let prompt = "<|im_start|>user\n\(question)<|im_end|>\n<|im_start|>assistant\n"
                let g = try CLI.run(["generate", path, "--prompt", prompt, "-n", "6", "--json"])
                let gen = try XCTUnwrap(try JSONSerialization.jsonObject(with: g.stdoutBytes) as? [String: Any])
                XCTAssertEqual(answer["reply"] as? String, gen["text"] as? String, "\(path): \(question)")
            }
            XCTAssertEqual(row["correct"] as? Int, answers.filter { $0["correct"] as? Bool == true }.count)
            let continuations = try XCTUnwrap(row["continuations"] as? [[String: Any]])
            XCTAssertEqual(continuations.map { $0["prompt"] as? String }, ["def f(x):\n    return", "The sky is"])
            var total = Repetition()
            for c in continuations {
                let g = try CLI.run(["generate", path, "--prompt", c["prompt"] as! String, "-n", "12", "--json"])
                let gen = try XCTUnwrap(try JSONSerialization.jsonObject(with: g.stdoutBytes) as? [String: Any])
                XCTAssertEqual(c["text"] as? String, gen["text"] as? String)
                total.add(Repetition(c["text"] as! String))
            }
            XCTAssertEqual(row["repeated_4grams"] as? Int, total.repeated)
            XCTAssertEqual(row["total_4grams"] as? Int, total.total)
            XCTAssertGreaterThan(try XCTUnwrap(row["prompt_tokens_per_second"] as? Double), 0)
            XCTAssertGreaterThan(try XCTUnwrap(row["decode_tokens_per_second"] as? Double), 0)
        }
        let table = try CLI.run(["compare", chat, deleted, "--file", text, "--ctx", "64", "--chunks", "2"])
        XCTAssertEqual(table.status, 0, table.stderr)
        let lines = table.stdout.split(separator: "\n")
        XCTAssertTrue(lines.first?.hasPrefix("model") ?? false, table.stdout)
        XCTAssertTrue(lines[1].hasPrefix("chat.gguf") && lines[2].hasPrefix("chat-deleted.gguf"), table.stdout)
    }

    func testCompareRefusals() throws {
        let (chat, _) = try models()
        let plain = folder + "/plain.gguf"
        let questions = folder + "/q.tsv"
        try "What is 2+2?\t4\nbroken line\n".write(toFile: questions, atomically: true, encoding: .utf8)
        CLI.assertOneErrorLine(try CLI.run(["compare", chat, "--file", text, "--ctx", "64", "--questions", questions]), mentioning: "q.tsv:2")
        try "What is 2+2?\t4\n".write(toFile: questions, atomically: true, encoding: .utf8)
        CLI.assertOneErrorLine(try CLI.run(["compare", plain, "--file", text, "--ctx", "64", "--questions", questions]),
                               mentioning: "chat_template")
        let empty = folder + "/empty.txt"
        try "\n\n".write(toFile: empty, atomically: true, encoding: .utf8)
        CLI.assertOneErrorLine(try CLI.run(["compare", chat, "--file", text, "--ctx", "64", "--prompts", empty]), mentioning: "no prompts")
        CLI.assertOneErrorLine(try CLI.run(["compare", chat, "--file", text, "--ctx", "4096"]), mentioning: "needs at least")
        CLI.assertOneErrorLine(try CLI.run(["compare", chat, text, "--file", text, "--ctx", "64"]), mentioning: text)
        CLI.assertOneErrorLine(try CLI.run(["compare", "--file", text]), mentioning: "model", status: 64)
    }
}
