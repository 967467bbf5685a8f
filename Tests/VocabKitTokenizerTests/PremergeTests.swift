import VocabKitTokenizer
import XCTest

/// The encoder starts some characters as their own tokens and splits pieces between characters no token
/// joins; these check the conditions hold where they should and that results stay exact.
final class PremergeTests: XCTestCase {
    func testQwenMergesAreMonotone() {
        XCTAssertTrue(bundledTokenizer.vocabulary.mergesAreMonotone)
    }

    func testCommonCJKCharactersStartAsOneToken() {
        let v = bundledTokenizer.vocabulary
        let sample = "的一是不了在人有我他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴突乎"
        var single = 0
        for c in sample.unicodeScalars where v.premergedTokens(of: c) != nil { single += 1 }
        // Most common characters are tokens whose own merges rank below anything that reaches across.
        XCTAssertGreaterThan(single, sample.unicodeScalars.count / 3)
        for c in sample.unicodeScalars {
            if let tokens = v.premergedTokens(of: c) {
                XCTAssertEqual(tokens.map(TokenID.init), v.bytePairEncode(Array(String(c).utf8)), "\(c)")
            }
        }
    }

    /// Long runs of CJK, Hangul, Arabic and Devanagari in every combination: the encoder's shortcuts must
    /// give exactly plain BPE over the whole piece.
    func testShortcutsMatchPlainBPE() {
        var rng = SeededGenerator(seed: 21)
        let alphabets: [[Unicode.Scalar]] = [
            Array("的一是不了在人有我他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自".unicodeScalars),
            Array("日本語のテキストですカタカナひらがな漢字変換東京都".unicodeScalars),
            Array("한국어텍스트입니다서울특별시".unicodeScalars),
            Array("العربيةمرحبابالعالم".unicodeScalars),
            Array("हिन्दीनमस्तेदुनिया".unicodeScalars),
            (0x4E00...0x4F00).compactMap(Unicode.Scalar.init),
        ]
        let v = bundledTokenizer.vocabulary
        for _ in 0..<3000 {
            var s = String.UnicodeScalarView()
            let length = 1 + Int(rng.next() % 60)
            for _ in 0..<length {
                let a = alphabets[Int(rng.next() % UInt64(alphabets.count))]
                s.append(a[Int(rng.next() % UInt64(a.count))])
            }
            let text = String(s)
            var plain = [TokenID]()
            for piece in bundledTokenizer.pieces(of: text) {
                if let id = v.id(of: piece) { plain.append(TokenID(id)) } else { plain += v.bytePairEncode(piece, forceHeap: true) }
            }
            XCTAssertEqual(bundledTokenizer.encode(text, specialTokens: false), plain, text)
        }
    }
}
