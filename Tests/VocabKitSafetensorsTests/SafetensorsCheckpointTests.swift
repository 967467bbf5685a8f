import Foundation
import XCTest
import VocabKitIO
@testable import VocabKitSafetensors

final class SafetensorsCheckpointTests: TemporaryFolderTestCase {
    func shard(_ names: [String]) -> [UInt8] {
        var members: [String] = []
        for (index, name) in names.enumerated() {
            members.append("\"\(name)\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[\(index * 2),\(index * 2 + 2)]}")
        }
        return SafetensorsBytes.file(header: "{" + members.joined(separator: ",") + "}",
                                     data: (0..<(names.count * 2)).map { UInt8($0) })
    }

    func index(_ map: [(String, String)], metadata: String = #"{"total_size": 8}"#) -> [UInt8] {
        let entries = map.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ")
        return Array("{\"metadata\": \(metadata), \"weight_map\": {\(entries)}}".utf8)
    }

    func testShardedCheckpointLocatesEveryTensor() throws {
        try write(shard(["a", "b"]), "model-00001-of-00002.safetensors")
        try write(shard(["c", "d"]), "model-00002-of-00002.safetensors")
        try write(index([("a", "model-00001-of-00002.safetensors"), ("b", "model-00001-of-00002.safetensors"),
                         ("c", "model-00002-of-00002.safetensors"), ("d", "model-00002-of-00002.safetensors")]),
                  SafetensorsIndex.fileName)
        let checkpoint = try SafetensorsCheckpoint(directory: folder)
        XCTAssertEqual(checkpoint.shardNames, ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
        XCTAssertEqual(checkpoint.locate("c")?.tensor.dataRange, 0..<2)
        XCTAssertEqual(checkpoint.allTensors.map(\.tensor.name), ["a", "b", "c", "d"])
        XCTAssertEqual(checkpoint.inputPaths.count, 3)
        let rewritten = checkpoint.index!.rewritten(totalSize: 6, totalParameters: 5)
        XCTAssertEqual(rewritten["metadata"]?["total_size"], .integer(6))
        XCTAssertNil(rewritten["metadata"]?["total_parameters"], "only keys the input had")
        XCTAssertEqual(rewritten["weight_map"]?.members?.count, 4)
    }

    func testSingleFileCheckpoint() throws {
        try write(shard(["x"]), "model.safetensors")
        let checkpoint = try SafetensorsCheckpoint(directory: folder)
        XCTAssertNil(checkpoint.index)
        XCTAssertEqual(checkpoint.locate("x")?.tensor.shape, [2])
    }

    func expectIndexError(_ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsCheckpoint(directory: folder), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "\(error) lacks \(fragment)", file: file, line: line)
        }
    }

    func testIndexMustAgreeWithTheShards() throws {
        try write(shard(["a", "b"]), "s1.safetensors")
        try write(shard(["c"]), "s2.safetensors")
        try write(index([("a", "s1.safetensors"), ("b", "s2.safetensors"), ("c", "s2.safetensors")]), SafetensorsIndex.fileName)
        expectIndexError("tensor 'b' is in s1.safetensors, not in s2.safetensors")
        try write(index([("a", "s1.safetensors"), ("c", "s2.safetensors")]), SafetensorsIndex.fileName)
        expectIndexError("tensor 'b' in s1.safetensors is not in the weight_map")
        try write(index([("a", "s1.safetensors"), ("b", "s1.safetensors"), ("c", "s2.safetensors"), ("z", "s2.safetensors")]), SafetensorsIndex.fileName)
        expectIndexError("tensor 'z' is not in s2.safetensors")
        try write(shard(["c", "a"]), "s2.safetensors")
        try write(index([("a", "s1.safetensors"), ("b", "s1.safetensors"), ("c", "s2.safetensors")]), SafetensorsIndex.fileName)
        expectIndexError("is in both s1.safetensors and s2.safetensors")
    }

    func testIndexShardNamesStayInTheFolder() throws {
        for name in ["../outside.safetensors", "/etc/passwd", "sub/x.safetensors", ".hidden", ""] {
            try write(index([("a", name)]), SafetensorsIndex.fileName)
            expectIndexError("not a file in the checkpoint's folder")
        }
    }

    func testMalformedIndexDocuments() throws {
        for text in ["", "[]", #"{"weight_map": []}"#, #"{"weight_map": {}}"#, #"{"weight_map": {"a": 1}}"#,
                     #"{"metadata": 3, "weight_map": {"a": "x.safetensors"}}"#, #"{"weight_map": {"a": "x", "a": "y"}}"#] {
            try write(Array(text.utf8), SafetensorsIndex.fileName)
            XCTAssertThrowsError(try SafetensorsCheckpoint(directory: folder), text) { error in
                XCTAssertTrue(error is SafetensorsError, "\(error)")
            }
        }
        try write(index([("a", "missing.safetensors")]), SafetensorsIndex.fileName)
        XCTAssertThrowsError(try SafetensorsCheckpoint(directory: folder)) { error in
            XCTAssertEqual(error as? FileError, .notFound(path: self.folder + "/missing.safetensors"))
        }
    }

    func testBothFormsOrNeither() throws {
        expectIndexError("model.safetensors")
        try write(shard(["a"]), "model.safetensors")
        try write(index([("a", "model.safetensors")]), SafetensorsIndex.fileName)
        expectIndexError("holds both")
    }
}
