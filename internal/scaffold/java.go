package scaffold

import (
	"os"
	"path/filepath"
)

// javaMarkers are the build files that make a directory a Java project:
// Maven's, then Gradle's (Groovy or Kotlin).
func javaMarkers() []string {
	return []string{"pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"}
}

// javaPlan builds the plan for a Maven or Gradle project: one action that
// compiles, tests and packages it with the project's wrapper when it has
// one (the version it was written for), else the installed tool.
//
// Both tools keep downloaded dependencies in the user's home (~/.m2,
// ~/.gradle), which actions share with the host through HOME, so no
// dependency folder lives in the workspace to declare; and the one action
// reads nothing another action wrote.
func javaPlan(dir string) (plan, error) {
	marker, err := firstExisting(dir, javaMarkers()...)
	if err != nil {
		return plan{}, err
	}
	p := plan{kind: Java, found: marker, envExample: "MAVEN_OPTS: -Xmx1g", notes: []string{
		"Maven and Gradle keep downloaded dependencies in the home directory",
		"(~/.m2, ~/.gradle), which actions share with the host: nothing in the",
		"workspace needs a cache: entry.",
	}}
	if marker == "pom.xml" {
		mvn := "mvn"
		if wrapper(dir, "mvnw") {
			mvn = "./mvnw"
		}
		p.actions = append(p.actions, action{
			name: "verify",
			comment: "Compile, run the tests and package: Maven's verify phase. -B and -ntp\n" +
				"keep the log to the build's own lines.",
			run:     mvn + " -B -ntp verify",
			timeout: testTimeout,
		})
		return p, nil
	}
	p.envExample = "GRADLE_OPTS: -Xmx1g"
	gradle := "gradle"
	if wrapper(dir, "gradlew") {
		gradle = "./gradlew"
	}
	p.actions = append(p.actions, action{
		name: "build",
		comment: "Compile, run the tests and package: Gradle's build task. --no-daemon\n" +
			"leaves no Gradle process behind when the action ends.",
		run:     gradle + " --no-daemon build",
		timeout: testTimeout,
	})
	return p, nil
}

// wrapper reports whether dir has an executable build wrapper script.
func wrapper(dir, name string) bool {
	info, err := os.Stat(filepath.Join(dir, name))
	return err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0
}
