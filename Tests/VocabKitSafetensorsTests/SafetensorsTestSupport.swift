import Foundation
import XCTest
@testable import VocabKitSafetensors

/// Builds safetensors bytes by hand, so tests can state exactly the header they mean, hostile or not.
enum SafetensorsBytes {
    /// The 8-byte length, then `header` (padded with spaces to 8 bytes unless `pad` is false), then `data`.
    static func file(header: String, data: [UInt8], pad: Bool = true) -> [UInt8] {
        var json = Array(header.utf8)
        if pad { while json.count % 8 != 0 { json.append(0x20) } }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        return out + json + data
    }

    /// Two small tensors, a metadata map and their data: the base every hostile mutation starts from.
    static let validHeader = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}}"#
    static let validData: [UInt8] = (0..<22).map { UInt8($0 * 7 + 1) }
    static var valid: [UInt8] { file(header: validHeader, data: validData) }

    static func parseError(_ bytes: [UInt8]) -> SafetensorsError? {
        do {
            _ = try SafetensorsFile(bytes: bytes)
            return nil
        } catch let error as SafetensorsError {
            return error
        } catch {
            XCTFail("unexpected error type \(error)")
            return nil
        }
    }
}

/// A fresh folder per test, removed afterwards.
class TemporaryFolderTestCase: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vocabkit-st-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func entries(_ path: String? = nil) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path ?? folder)) ?? []).sorted()
    }

    func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }

    func write(_ bytes: [UInt8], _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: folder + "/" + name))
    }

    /// Tests/Fixtures/ in the repository.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path
}
