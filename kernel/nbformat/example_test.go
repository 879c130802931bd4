package nbformat_test

import (
	"fmt"
	"os"

	"github.com/ppml-go/ppml/kernel/nbformat"
)

// Build a notebook, give a cell nbgrader metadata and an output, and write
// it as nbformat would.
func Example() {
	nb := nbformat.New()
	cell := nbformat.NewCell(nbformat.Code, "fmt.Println(\"hi\")\n")
	cell.ID = "c1"
	cell.SetNbgrader(&nbformat.Nbgrader{Grade: true, GradeID: "test1", Points: 1, SchemaVersion: 3})
	cell.Outputs = append(cell.Outputs, &nbformat.Output{OutputType: nbformat.Stream, Name: "stdout", Text: "hi\n"})
	nb.Cells = append(nb.Cells, cell)
	nbformat.Write(os.Stdout, nb)

	g, _, _ := nb.Cells[0].Nbgrader()
	fmt.Println(g.GradeID, g.Points)
	// Output:
	// {
	//  "cells": [
	//   {
	//    "cell_type": "code",
	//    "execution_count": null,
	//    "id": "c1",
	//    "metadata": {
	//     "nbgrader": {
	//      "grade": true,
	//      "grade_id": "test1",
	//      "locked": false,
	//      "points": 1,
	//      "schema_version": 3,
	//      "solution": false,
	//      "task": false
	//     }
	//    },
	//    "outputs": [
	//     {
	//      "name": "stdout",
	//      "output_type": "stream",
	//      "text": [
	//       "hi\n"
	//      ]
	//     }
	//    ],
	//    "source": [
	//     "fmt.Println(\"hi\")\n"
	//    ]
	//   }
	//  ],
	//  "metadata": {},
	//  "nbformat": 4,
	//  "nbformat_minor": 5
	// }
	// test1 1
}
