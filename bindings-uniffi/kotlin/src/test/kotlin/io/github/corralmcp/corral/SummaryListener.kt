package io.github.corralmcp.corral

import org.junit.platform.engine.TestExecutionResult
import org.junit.platform.launcher.TestExecutionListener
import org.junit.platform.launcher.TestIdentifier
import org.junit.platform.launcher.TestPlan
import java.util.concurrent.atomic.AtomicInteger

/** Prints one closing line of counts, also under `mvn -q` (which hides Surefire's summary). */
class SummaryListener : TestExecutionListener {
    private val passed = AtomicInteger()
    private val failed = AtomicInteger()
    private val skipped = AtomicInteger()

    override fun executionSkipped(
        testIdentifier: TestIdentifier,
        reason: String,
    ) {
        if (testIdentifier.isTest) skipped.incrementAndGet()
    }

    override fun executionFinished(
        testIdentifier: TestIdentifier,
        testExecutionResult: TestExecutionResult,
    ) {
        if (!testIdentifier.isTest) return
        when (testExecutionResult.status) {
            TestExecutionResult.Status.SUCCESSFUL -> passed.incrementAndGet()
            TestExecutionResult.Status.ABORTED -> skipped.incrementAndGet()
            else -> failed.incrementAndGet()
        }
    }

    override fun testPlanExecutionFinished(testPlan: TestPlan) {
        println("kotlin: ${passed.get()} passed, ${failed.get()} failed, ${skipped.get()} skipped")
    }
}
