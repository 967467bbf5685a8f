import VocabKitModels
import XCTest

/// The literal text read out of Jinja chat templates (what `prune` keeps the tokens of).
final class ChatTemplateTextTests: XCTestCase {
    func testTextBetweenTagsAndStringLiterals() {
        let template = #"{%- for m in messages %}{{- '<|im_start|>' + m['role'] + '\n' + m["content"] + '<|im_end|>\n' }}{%- endfor %}"#
            + #"{# a comment: Zanzibar #}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"#
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: template),
                       ["<|im_start|>", "role", "\n", "content", "<|im_end|>\n", "<|im_start|>assistant\n"])
    }

    /// `{%-` trims the whitespace before a tag and `-%}` the whitespace after it, as Jinja renders them.
    func testWhitespaceControl() {
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: "Hello {%- if x %}  World  {%- endif -%}\n  End"),
                       ["Hello", "  World", "End"])
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: "{{ x -}}\n\n{#- c -#}  \n"), [])
    }

    func testEscapesQuotesAndNonASCII() {
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: #"{{ 'it\'s\t\\n' + "say \"hi\"" + '}}' + 'héllo 你好' }}"#),
                       ["it's\t\\n", "say \"hi\"", "}}", "héllo 你好"])
        // An unknown escape stays as written (Python keeps the backslash).
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: #"{{ '\d' }}"#), [#"\d"#])
    }

    /// A malformed template still yields what it holds, never a trap or a hang.
    func testUnclosedTagsAndStrings() {
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: "text {{"), ["text "])
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: "{{ 'abc"), ["abc"])
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: "{% if x"), [])
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: "a { b } {"), ["a { b } {"])
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: #"{{ '\"#), [#"\"#])
        XCTAssertEqual(ChatTemplateText.literals(ofJinja: ""), [])
    }

    /// The format llama.cpp would apply adds its scaffold: every role's markers, so that a template written
    /// only with variables (`'<|im_start|>' + role`) still names `user` and `assistant`.
    func testPiecesAddTheDetectedFormatsScaffold() {
        let template = "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}"
        let pieces = ChatTemplateText.pieces(of: template)
        XCTAssertTrue(pieces.contains(ChatFormat.chatml.scaffold), "\(pieces)")
        XCTAssertEqual(ChatFormat.chatml.scaffold,
                       "<|im_start|>system\n<|im_end|>\n<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertTrue(ChatFormat.llama3.scaffold.contains("<|start_header_id|>assistant<|end_header_id|>\n\n"))
        // A template of no known format gives its literals only.
        XCTAssertEqual(ChatTemplateText.pieces(of: "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}"),
                       ["[", "] "])
    }
}
