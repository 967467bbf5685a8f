import XCTest
final class PruneModuleTests: XCTestCase { func testModuleBuilds() { XCTAssertTrue(true) } }
