package io.github.corralmcp.corral.conformance

import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assumptions
import org.junit.jupiter.api.DynamicTest
import org.junit.jupiter.api.TestFactory
import org.junit.jupiter.api.TestInstance
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import kotlin.test.fail

/**
 * Every scenario of the shared conformance suite (tests/conformance/scenarios) as one test, run
 * through the Kotlin binding. Skips by capability (never by language); with
 * `CORRAL_TEST_REQUIRE_ALL=1` a missing capability fails. A failure listed in
 * tests/conformance/expected-failures/kotlin.txt is skipped; a listed scenario that passes fails.
 *
 * Environment: `CORRAL_TEST_SERVER` (the fixture binary; default: the `corral.test.server`
 * property the Makefile sets), `CORRAL_TEST_PROVIDER` (default `local`), `CORRAL_TEST_OFFLINE=1`.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConformanceTest {
    private val root: Path = Paths.get(System.getProperty("corral.repo.root") ?: "../..").toAbsolutePath().normalize()
    private var env: Env? = null
    private val outcomes = mutableListOf<String>()

    private fun fixtureServer(): Path =
        Paths.get(
            System.getenv("CORRAL_TEST_SERVER")
                ?: System.getProperty("corral.test.server")
                ?: fail("set CORRAL_TEST_SERVER or -Dcorral.test.server to the corral-test-server binary"),
        )

    @TestFactory
    fun scenarios(): List<DynamicTest> {
        val server = fixtureServer()
        check(Files.isRegularFile(server)) {
            "the fixture server $server is missing: run `cargo build -p corral-test-server` first (or set CORRAL_TEST_SERVER)"
        }
        val env = Env(server).also { this.env = it }
        val conformance = root.resolve("tests/conformance")
        val expected = loadExpectedFailures(conformance.resolve("expected-failures/kotlin.txt"))
        val requireAll = System.getenv("CORRAL_TEST_REQUIRE_ALL") != null
        return loadScenarios(conformance.resolve("scenarios")).map { scenario ->
            DynamicTest.dynamicTest(scenario.name) {
                val missing = env.missing(scenario.requires)
                if (missing.isNotEmpty()) {
                    if (requireAll) fail("missing capabilities: $missing")
                    record(scenario.name, "skipped (needs $missing)")
                    Assumptions.abort<Unit>("needs $missing")
                }
                val error =
                    try {
                        runBlocking { runScenario(scenario, env) }
                        null
                    } catch (e: StepFailure) {
                        e.message ?: "failed"
                    } catch (e: Exception) {
                        e.toString()
                    }
                val expectedFailure = scenario.name in expected
                when {
                    error == null && !expectedFailure -> {
                        record(scenario.name, "passed")
                    }

                    error != null && !expectedFailure -> {
                        record(scenario.name, "FAILED: $error")
                        fail(error)
                    }

                    error != null -> {
                        record(scenario.name, "expected failure")
                        Assumptions.abort<Unit>("expected failure")
                    }

                    else -> {
                        record(scenario.name, "FAILED: listed as an expected failure but passes")
                        fail("listed in expected-failures/kotlin.txt but passes: remove it from the list")
                    }
                }
            }
        }
    }

    private fun record(
        name: String,
        what: String,
    ) {
        println("conformance (kotlin): $name ... $what")
        synchronized(outcomes) { outcomes += what }
    }

    @AfterAll
    fun tearDown() {
        env?.close()
        val passed = outcomes.count { it == "passed" }
        val failed = outcomes.count { it.startsWith("FAILED") }
        println("conformance (kotlin): $passed passed, $failed failed, ${outcomes.size - passed - failed} skipped")
    }
}
