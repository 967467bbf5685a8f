import XCTest
final class InferenceModuleTests: XCTestCase { func testModuleBuilds() { XCTAssertTrue(true) } }
