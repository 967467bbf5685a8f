import VocabKitGGUF
import VocabKitTestSupport
import XCTest
@testable import VocabKitModels

final class ChatFormatTests: XCTestCase {
    /// The real model's template selects ChatML, as llama.cpp's detection does (it contains <|im_start|>).
    func testRealModelTemplateIsChatML() throws {
        let file = try GGUFFile(path: try TestData.realModel())
        let template = try XCTUnwrap(file.string("tokenizer.chat_template"))
        XCTAssertTrue(template.contains("{%"), "a Jinja template, not a format name")
        XCTAssertEqual(try ChatFormat.of(file, path: "model"), .chatml)
    }

    func testDetectionFollowsLlamaCppsMarkers() {
        XCTAssertEqual(ChatFormat.detect(template: "{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}"), .chatml)
        XCTAssertEqual(ChatFormat.detect(template: "chatml"), .chatml)
        XCTAssertNil(ChatFormat.detect(template: "<|im_start|>{{ x }}<|im_sep|>"), "phi-4 uses <|im_sep|>")
        XCTAssertEqual(ChatFormat.detect(template: "{{ '<|start_header_id|>' + role + '<|end_header_id|>' }}"), .llama3)
        XCTAssertNil(ChatFormat.detect(template: "[INST] {{ content }} [/INST]"))
    }

    /// The layouts of llama.cpp's `llm_chat_apply_template` for these formats.
    func testRendering() {
        let messages: [ChatMessage] = [.system("Be brief."), .user("  What is 2+2?\n")]
        XCTAssertEqual(ChatFormat.chatml.apply(messages),
                       "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n  What is 2+2?\n<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(ChatFormat.chatml.apply([.user("hi")], addAssistantPrompt: false), "<|im_start|>user\nhi<|im_end|>\n")
        XCTAssertEqual(ChatFormat.llama3.apply(messages),
                       "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
                       + "What is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    }
}
